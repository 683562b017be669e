/**
 * The AI SDKs whose presence among a package's direct dependencies marks it as an AI tool the
 * catalog does not know yet. Direct dependencies only: a transitive SDK deep in a tree says
 * little about what the tool itself does.
 */
import { escapeRegExp } from './parse/text.js';

const NPM_EXACT = new Set([
  '@anthropic-ai/sdk',
  '@anthropic-ai/claude-agent-sdk',
  '@anthropic-ai/claude-code',
  '@anthropic-ai/bedrock-sdk',
  '@anthropic-ai/vertex-sdk',
  'openai',
  '@openai/agents',
  '@openai/codex-sdk',
  '@google/genai',
  '@google/generative-ai',
  '@google-cloud/vertexai',
  'ai',
  '@modelcontextprotocol/sdk',
  '@mistralai/mistralai',
  'groq-sdk',
  'cohere-ai',
  'ollama',
  'langchain',
  '@aws-sdk/client-bedrock-runtime',
  '@azure/openai',
  '@huggingface/inference',
  'together-ai',
]);

const NPM_SCOPES = ['@ai-sdk/', '@langchain/', '@openrouter/'];

/** A JSON key naming one of the npm AI SDKs (`"openai":`): the pattern mayNameNpmAiSdk looks for. */
export const NPM_SDK_KEY = new RegExp(
  `"(?:${[...[...NPM_EXACT].map(escapeRegExp), ...NPM_SCOPES.map((scope) => `${escapeRegExp(scope)}[^"]*`)].join('|')})"\\s*:`,
);

/**
 * Whether a package.json's text could name an AI SDK as a key at all. Most global packages do
 * not, and this one regular-expression pass spares parsing them (scans read thousands).
 */
export function mayNameNpmAiSdk(packageJsonText: string): boolean {
  return NPM_SDK_KEY.test(packageJsonText);
}

/** The AI SDKs among npm dependency names, sorted. */
export function npmAiSdks(dependencies: Iterable<string>): string[] {
  const found: string[] = [];
  for (const dep of dependencies)
    if (NPM_EXACT.has(dep) || NPM_SCOPES.some((scope) => dep.startsWith(scope))) found.push(dep);
  return found.sort();
}

const PYPI_EXACT = new Set([
  'anthropic',
  'claude-agent-sdk',
  'claude-code-sdk',
  'openai',
  'openai-agents',
  'litellm',
  'google-genai',
  'google-generativeai',
  'mcp',
  'fastmcp',
  'langchain',
  'llama-index',
  'mistralai',
  'cohere',
  'groq',
  'ollama',
  'pydantic-ai',
  'pydantic-ai-slim',
  'instructor',
  'together',
]);

const PYPI_PREFIXES = ['langchain-', 'llama-index-'];

/** PEP 503 normalisation: lower case, runs of -, _ and . become one -. */
export function normalizePyName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}

/** The AI SDKs among Python requirement names (any spelling), sorted and normalised. */
export function pypiAiSdks(requirements: Iterable<string>): string[] {
  const found = new Set<string>();
  for (const req of requirements) {
    const name = normalizePyName(req);
    if (PYPI_EXACT.has(name) || PYPI_PREFIXES.some((prefix) => name.startsWith(prefix))) found.add(name);
  }
  return [...found].sort();
}
