/** The scan step: the machine's AI tools (agent/inventory), minus enforcement's own files. */
import { builtinCatalog } from '../../policies/catalog/index.js';
import { scanMachine } from '../inventory/index.js';
import type { ScanResult } from '../inventory/types.js';
import type { Step } from './step.js';

export const scanStep: Step<ScanResult> = {
  name: 'scan',
  async run(state) {
    const { scanRoots: roots, scanMemo: memo, sync, enforcer } = state.parts;
    const result = await scanMachine({
      ...(roots.homes ? { homes: roots.homes } : {}),
      ...(roots.npmPrefixes ? { npmPrefixes: roots.npmPrefixes } : {}),
      ...(roots.paths ? { paths: roots.paths } : {}),
      catalog: sync.current?.catalog ?? builtinCatalog,
      memo,
    });
    // Stubs, kept originals and quarantined folders are enforcement's own, not tools.
    result.instances = result.instances.filter((instance) => !enforcer.isArtefact(instance));
    state.lastScan = result;
    return result;
  },
};
