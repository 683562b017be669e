/** JetBrains plugin folders with real jars (zip archives holding META-INF/plugin.xml). */
import { realpathSync } from 'node:fs';

import { afterAll, describe, expect, it } from 'vitest';

import { scanMachine } from '../../../agent/inventory/index.js';
import { cleanup, scratch, summary, zip } from './fixtures.js';

afterAll(cleanup);

const quiet = { detectRunning: false, paths: [] as string[] };

const pluginXml = (id: string, version: string, name = id) =>
  `<?xml version="1.0"?>\n<idea-plugin require-restart="true">\n  <id>${id}</id>\n  <name>${name}</name>\n  <version>${version}</version>\n  <vendor url="https://example.com">Vendor</vendor>\n  <idea-version since-build="243"/>\n  <change-notes><![CDATA[<p>Now with <version>9.9.9</version> tags in notes</p>]]></change-notes>\n  <extensions defaultExtensionNs="com.intellij"><version>8.8.8</version></extensions>\n</idea-plugin>\n`;

describe('JetBrains plugins', () => {
  const t = scratch();
  const alice = t.dir('home/alice');
  const linuxIde = 'home/alice/.local/share/JetBrains/IntelliJIdea2025.2';
  t.file(
    `${linuxIde}/claude-code-jetbrains-plugin/lib/claude-code-jetbrains-plugin-0.1.12.jar`,
    zip({
      'META-INF/MANIFEST.MF': 'Manifest-Version: 1.0\n',
      'META-INF/plugin.xml': pluginXml('com.anthropic.code.plugin', '0.1.12-beta', 'Claude Code [Beta]'),
    }),
  );
  t.file(`${linuxIde}/IdeaVim/lib/IdeaVim-2.10.0.jar`, zip({ 'META-INF/plugin.xml': pluginXml('IdeaVIM', '2.10.0') }));
  // Matched by id although the folder has another name; plugin.xml is in the second jar, stored.
  t.file(`${linuxIde}/copilot/lib/core.jar`, zip({ 'a/B.class': 'cafebabe' }));
  t.file(
    `${linuxIde}/copilot/lib/zz-main.jar`,
    zip({ 'META-INF/plugin.xml': pluginXml('com.github.copilot', '1.5.40-243') }, false),
  );
  // A catalogued folder whose jar is garbage: reported without a version, the jar listed as skipped.
  t.file(`${linuxIde}/com.tabnine.TabNine/lib/TabNine.jar`, 'this is not a zip file at all');
  t.file(
    `${linuxIde}/sourcegraph.jar`,
    zip({ 'META-INF/plugin.xml': pluginXml('com.sourcegraph.jetbrains', '7.110.0') }),
  );

  it('reads ids and versions from plugin.xml inside the jars', async () => {
    const result = await scanMachine({ homes: [alice], ...quiet });
    expect(summary(result.instances)).toEqual([
      'claude-code 0.1.12-beta jetbrains-plugin alice IntelliJIdea2025.2',
      'github-copilot-ide 1.5.40-243 jetbrains-plugin alice IntelliJIdea2025.2',
      'sourcegraph-cody 7.110.0 jetbrains-plugin alice IntelliJIdea2025.2',
      'tabnine null jetbrains-plugin alice IntelliJIdea2025.2',
    ]);
    const claude = result.instances[0]!;
    expect(claude.installPath).toBe(realpathSync(t.path(`${linuxIde}/claude-code-jetbrains-plugin`)));
    expect(claude.evidence).toEqual([
      t.path(`${linuxIde}/claude-code-jetbrains-plugin/lib/claude-code-jetbrains-plugin-0.1.12.jar`),
    ]);
    expect(result.instances[3]!.versionError).toBe("no META-INF/plugin.xml found in the plugin's jars");
    expect(result.skipped).toEqual([
      {
        path: t.path(`${linuxIde}/com.tabnine.TabNine/lib/TabNine.jar`),
        reason: 'not a zip archive (no end of central directory)',
      },
    ]);
  });

  it('finds the macOS and Windows config folders (plugins/ level)', async () => {
    const m = scratch();
    const mac = m.dir('Users/mo');
    m.file(
      'Users/mo/Library/Application Support/JetBrains/PyCharm2025.1/plugins/qoder/lib/qoder.jar',
      zip({ 'META-INF/plugin.xml': pluginXml('com.qoder', '0.3.1') }),
    );
    m.file(
      'Users/mo/Library/Application Support/Google/AndroidStudio2024.2/plugins/cosy/lib/cosy.jar',
      zip({ 'META-INF/plugin.xml': pluginXml('com.alibabacloud.intellij.cosy', '2.5.0') }),
    );
    expect(summary((await scanMachine({ homes: [mac], platform: 'darwin', ...quiet })).instances)).toEqual([
      'qoder 0.3.1 jetbrains-plugin mo PyCharm2025.1',
      'tongyi-lingma 2.5.0 jetbrains-plugin mo AndroidStudio2024.2',
    ]);
    const w = scratch();
    const win = w.dir('Users/wu');
    w.file(
      'Users/wu/AppData/Roaming/JetBrains/WebStorm2024.3/plugins/github-copilot-intellij/lib/github-copilot-intellij.jar',
      zip({ 'META-INF/plugin.xml': pluginXml('com.github.copilot', '1.5.30-242') }),
    );
    expect(summary((await scanMachine({ homes: [win], platform: 'windows', ...quiet })).instances)).toEqual([
      'github-copilot-ide 1.5.30-242 jetbrains-plugin wu WebStorm2024.3',
    ]);
  });
});
