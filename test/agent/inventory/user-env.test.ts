/**
 * The startup-file parser (pure): the lines version managers' installers and people's dotfiles
 * really write, each with where it comes from.
 */
import { describe, expect, it } from 'vitest';

import { parseEnviron, parseStartupFile, type StartupDialect } from '../../../agent/inventory/parse/shell-env.js';

const HOME = '/home/bob';

/** name=value pairs the text sets (PATH aside: no root is read from it), in order, starting from HOME (and `given`). */
function parse(text: string, dialect: StartupDialect = 'sh', given: Record<string, string> = {}) {
  const scope = new Map<string, string>([['HOME', HOME], ...Object.entries(given)]);
  const parsed = parseStartupFile(text, dialect, scope);
  return {
    set: parsed.assignments.filter((a) => a.name !== 'PATH').map((a) => `${a.name}=${a.value}`),
    unresolved: parsed.unresolved,
    sourced: parsed.sourced,
  };
}

describe('startup files: sh family (bash, zsh, ~/.profile, environment.d, /etc/environment)', () => {
  it.each([
    // pnpm/pnpm#4658: the usual fix, PNPM_HOME exported from the shell profile.
    ['export PNPM_HOME="$HOME/pnpm"\nexport PATH="$PNPM_HOME:$PATH"', ['PNPM_HOME=/home/bob/pnpm']],
    // `pnpm setup` (pnpm's setup.ts) writes this block into ~/.bashrc.
    [
      '# pnpm\nexport PNPM_HOME="/home/bob/.local/share/pnpm"\ncase ":$PATH:" in\n  *":$PNPM_HOME:"*) ;;\n  *) export PATH="$PNPM_HOME:$PATH" ;;\nesac\n# pnpm end',
      ['PNPM_HOME=/home/bob/.local/share/pnpm'],
    ],
    // nvm's installer (nvm-sh/nvm install.sh) appends these lines.
    [
      'export NVM_DIR="$HOME/.nvm"\n[ -s "$NVM_DIR/nvm.sh" ] && \\. "$NVM_DIR/nvm.sh"  # This loads nvm',
      ['NVM_DIR=/home/bob/.nvm'],
    ],
    // bun's installer (bun.sh/install) for zsh and bash.
    ['# bun\nexport BUN_INSTALL="$HOME/.bun"\nexport PATH="$BUN_INSTALL/bin:$PATH"', ['BUN_INSTALL=/home/bob/.bun']],
    // Volta's installer (volta-cli/volta) writes VOLTA_HOME to the profile.
    ['export VOLTA_HOME="$HOME/.volta"\nexport PATH="$VOLTA_HOME/bin:$PATH"', ['VOLTA_HOME=/home/bob/.volta']],
    // Tilde, braces, defaults, earlier variables, `&&` and `then` guards, declare/typeset.
    ['export UV_TOOL_DIR=~/tools/uv', ['UV_TOOL_DIR=/home/bob/tools/uv']],
    ['export PNPM_HOME=${XDG_DATA_HOME:-$HOME/.local/share}/pnpm', ['PNPM_HOME=/home/bob/.local/share/pnpm']],
    [
      'TOOLS=$HOME/tools\nexport PIPX_HOME="${TOOLS}/pipx" PIPX_BIN_DIR=$TOOLS/bin',
      ['TOOLS=/home/bob/tools', 'PIPX_HOME=/home/bob/tools/pipx', 'PIPX_BIN_DIR=/home/bob/tools/bin'],
    ],
    ['[ -d "$HOME/pnpm" ] && export PNPM_HOME="$HOME/pnpm"', ['PNPM_HOME=/home/bob/pnpm']],
    ['if [ -d ~/fnm ]; then\n  export FNM_DIR=~/fnm\nfi', ['FNM_DIR=/home/bob/fnm']],
    [
      'declare -x MISE_DATA_DIR="$HOME/.mise"\ntypeset -gx ASDF_DATA_DIR=$HOME/.asdf-data',
      ['MISE_DATA_DIR=/home/bob/.mise', 'ASDF_DATA_DIR=/home/bob/.asdf-data'],
    ],
    // environment.d(5) and pam_env's /etc/environment: plain KEY=VALUE lines.
    [
      'XDG_DATA_HOME=${HOME}/.data\nPIPX_HOME=${XDG_DATA_HOME}/pipx',
      ['XDG_DATA_HOME=/home/bob/.data', 'PIPX_HOME=/home/bob/.data/pipx'],
    ],
    [
      'export A=1; export NPM_CONFIG_PREFIX=~/.npm-packages # npm docs "Resolving EACCES"',
      ['A=1', 'NPM_CONFIG_PREFIX=/home/bob/.npm-packages'],
    ],
    // Single quotes are literal; a backslash-newline continues the line.
    ["export PNPM_HOME='$HOME/pnpm'", ['PNPM_HOME=$HOME/pnpm']],
    ['export \\\n  BUN_INSTALL="$HOME/.bun-x"', ['BUN_INSTALL=/home/bob/.bun-x']],
  ])('%j', (text, expected) => {
    expect(parse(text).set).toEqual(expected);
  });

  it('leaves alone what only a running shell could know, and names set for one command', () => {
    // nvm's README: with XDG_CONFIG_HOME set the installer writes this command substitution.
    const nvm = parse(
      'export NVM_DIR="$([ -z "${XDG_CONFIG_HOME-}" ] && printf %s "${HOME}/.nvm" || printf %s "${XDG_CONFIG_HOME}/nvm")"',
    );
    expect(nvm.set.filter((s) => s.startsWith('NVM_DIR='))).toEqual([]);
    expect(parse('export PNPM_HOME=`pnpm root -g`').unresolved).toEqual(['PNPM_HOME']);
    expect(parse('export X=$(brew --prefix)\nexport HOMEBREW_PREFIX=$X').set).toEqual([]);
    expect(parse('export PNPM_HOME=$UNSET_VAR/pnpm').set).toEqual([]);
    expect(parse('PNPM_HOME=/tmp/x pnpm add -g foo').set).toEqual([]);
    expect(parse('echo "export PNPM_HOME=/nope"').set).toEqual([]);
    expect(parse('export PATH').set).toEqual([]);
  });

  it('lists the files it sources', () => {
    expect(
      parse('source ~/.config/shell/env.sh\n. "$HOME/.cargo/env"\n[ -f ~/.aliases ] && source ~/.aliases').sourced,
    ).toEqual(['/home/bob/.config/shell/env.sh', '/home/bob/.cargo/env', '/home/bob/.aliases']);
  });
});

describe('startup files: fish', () => {
  it.each([
    // pnpm setup for fish (pnpm's setup.ts) writes `set -gx PNPM_HOME ...` to config.fish.
    [
      '# pnpm\nset -gx PNPM_HOME "/home/bob/.local/share/pnpm"\nif not string match -q -- $PNPM_HOME $PATH\n  set -gx PATH "$PNPM_HOME" $PATH\nend',
      ['PNPM_HOME=/home/bob/.local/share/pnpm'],
    ],
    // bun's installer for fish.
    ['set --export BUN_INSTALL "$HOME/.bun"\nset --export PATH $BUN_INSTALL/bin $PATH', ['BUN_INSTALL=/home/bob/.bun']],
    // A dotfile moving everything under XDG (rank-6 search hit: `set -gx BUN_INSTALL $XDG_DATA_HOME/bun`).
    [
      'set -gx XDG_DATA_HOME $HOME/.local/share\nset -gx BUN_INSTALL $XDG_DATA_HOME/bun\nset -gx PNPM_HOME {$XDG_DATA_HOME}/pnpm',
      [
        'XDG_DATA_HOME=/home/bob/.local/share',
        'BUN_INSTALL=/home/bob/.local/share/bun',
        'PNPM_HOME=/home/bob/.local/share/pnpm',
      ],
    ],
    ['set -Ux VOLTA_HOME ~/.volta', ['VOLTA_HOME=/home/bob/.volta']],
    // Not exported: feeds later lines, reaches no tool.
    ['set -g base ~/tools\nset -x UV_TOOL_DIR $base/uv', ['UV_TOOL_DIR=/home/bob/tools/uv']],
    ['set -gx PNPM_HOME (pnpm root -g)', []],
    ['set -e PNPM_HOME', []],
  ])('%j', (text, expected) => {
    expect(parse(text, 'fish').set).toEqual(expected);
  });

  it('reads universal variables (`set -Ux` is stored in fish_variables)', () => {
    const text =
      '# This file contains fish universal variable definitions.\n# VERSION: 3.0\nSETUVAR --export PNPM_HOME:/home/bob/pnpm\nSETUVAR __fish_initialized:3400\nSETUVAR --export fish_user_paths:/home/bob/\\x2elocal/bin\\x1e/home/bob/bin\n';
    expect(parse(text, 'fish-universal').set).toEqual(['PNPM_HOME=/home/bob/pnpm']);
  });
});

describe("startup files: the user's PATH (its folders in the home are launcher folders)", () => {
  const pathOf = (text: string, dialect: StartupDialect) =>
    parseStartupFile(
      text,
      dialect,
      new Map([
        ['HOME', HOME],
        ['PATH', '<login>'],
        ['USER', 'bob'],
      ]),
    )
      .assignments.filter((a) => a.name === 'PATH')
      .map((a) => a.value);
  it.each([
    // npm docs, "Resolving EACCES permissions errors when installing packages globally".
    ['sh', 'export PATH=~/.npm-global/bin:$PATH', ['/home/bob/.npm-global/bin:<login>']],
    ['sh', 'PATH="$PATH:$HOME/.cc-hidden/bin"\nexport PATH', ['<login>:/home/bob/.cc-hidden/bin']],
    [
      'sh',
      'export PATH="$HOME/a:$PATH"\nexport PATH="$HOME/b:$PATH"',
      ['/home/bob/a:<login>', '/home/bob/b:/home/bob/a:<login>'],
    ],
    // fish: PATH is a list, exported joined by `:` (fish docs, "Path variables").
    ['fish', 'set -gx PATH ~/.cc-hidden/bin $PATH', ['/home/bob/.cc-hidden/bin:<login>']],
    ['fish', 'set --export PATH $HOME/x/bin $HOME/y/bin', ['/home/bob/x/bin:/home/bob/y/bin']],
    // fish_add_path (fish >= 3.2): in front of PATH.
    ['fish', 'fish_add_path -g ~/.cc-hidden/bin ~/other', ['/home/bob/.cc-hidden/bin:/home/bob/other:<login>']],
    ['fish', 'fish_add_path (pnpm bin -g)', []],
    // Red-team round 9: forms every shell takes that were missed.
    ['sh', 'PATH+=":$HOME/.h/bin"', ['<login>:/home/bob/.h/bin']],
    ['sh', 'PATH=$HOME/.h/bin${PATH:+:$PATH}', ['/home/bob/.h/bin:<login>']],
    [
      'sh',
      'PATH=~bob/.h/bin:$PATH\nPATH=~alice/x:$PATH',
      ['/home/bob/.h/bin:<login>', '~alice/x:/home/bob/.h/bin:<login>'],
    ],
    ['sh', 'export PATH=/home/$USER/.h/bin:$PATH', ['/home/bob/.h/bin:<login>']],
    // One line a shell must run does not hide the ones after it.
    ['sh', 'export PATH="$(brew --prefix)/bin:$PATH"\nexport PATH=~/.h/bin:$PATH', ['/home/bob/.h/bin:<login>']],
    // zsh's path array (zsh docs, "Parameters Used By The Shell").
    ['sh', 'path=(~/.h/bin $path)', ['/home/bob/.h/bin:<login>']],
    ['sh', 'path+=(~/.h/bin "$HOME/y")', ['<login>:/home/bob/.h/bin:/home/bob/y']],
    // fish: -p/-a add to the list; PATH is exported whatever the flags.
    ['fish', 'set -gp PATH ~/.h/bin', ['/home/bob/.h/bin:<login>']],
    ['fish', 'set --append PATH ~/.h/bin', ['<login>:/home/bob/.h/bin']],
    ['fish', 'set PATH ~/.h/bin $PATH', ['/home/bob/.h/bin:<login>']],
    // fish_add_path's default: the universal fish_user_paths, stored in fish_variables.
    [
      'fish-universal',
      'SETUVAR fish_user_paths:/home/bob/\\x2ecc/bin\\x1e/home/bob/bin\nSETUVAR --export PNPM_HOME:/home/bob/pnpm',
      ['/home/bob/.cc/bin:/home/bob/bin'],
    ],
  ] as const)('%s: %j', (dialect, text, expected) => {
    expect(pathOf(text, dialect)).toEqual(expected);
  });
});

describe('/proc/<pid>/environ', () => {
  it('splits NUL-separated pairs and drops malformed ones', () => {
    const bytes = Buffer.from('HOME=/home/bob\0PNPM_HOME=/home/bob/pnpm\0=x\0junk\0A=b=c\0PNPM_HOME=/second\0', 'utf8');
    expect([...parseEnviron(bytes)]).toEqual([
      ['HOME', '/home/bob'],
      ['PNPM_HOME', '/home/bob/pnpm'],
      ['A', 'b=c'],
    ]);
  });
});
