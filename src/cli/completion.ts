/**
 * `openbatch completion bash|zsh`: a completion script built from the commands and options this CLI really has
 * (walked from commander's tree), so it cannot fall behind them. Completes subcommands at any depth (`admin user
 * ...`), each command's options, and job states after `--state`/`--status`.
 *
 *   bash: `source <(openbatch completion bash)`, or save it in /etc/bash_completion.d/openbatch
 *   zsh:  `source <(openbatch completion zsh)` after compinit, or save it as `_openbatch` in a directory on $fpath
 */
import type { Command } from 'commander';
import { UsageError } from './client.js';
import { STATES } from './job-follow.js';

interface Node {
  path: string;
  subcommands: string[];
  options: string[];
}

/** Every command path (`openbatch`, `openbatch admin`, ...) with its subcommand names and option flags. */
export function commandTree(root: Command): Node[] {
  const out: Node[] = [];
  const walk = (c: Command, path: string) => {
    const subs = c.commands.filter((s) => !(s as unknown as { _hidden?: boolean })._hidden);
    const options = c.options
      .filter((o) => !o.hidden)
      .flatMap((o) => [o.short, o.long].filter((f): f is string => !!f));
    out.push({ path, subcommands: subs.flatMap((s) => [s.name(), ...s.aliases()]), options: [...options, '--help'] });
    for (const s of subs) for (const n of [s.name(), ...s.aliases()]) walk(s, `${path} ${n}`);
  };
  walk(root, root.name());
  return out;
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
const STATE_FLAGS = '--state|-s|--status';

function bash(tree: Node[]): string {
  const subs = tree.map((n) => `    [${q(n.path)}]=${q(n.subcommands.join(' '))}`).join('\n');
  const opts = tree.map((n) => `    [${q(n.path)}]=${q(n.options.join(' '))}`).join('\n');
  return `# openbatch completion for bash. Load it with: source <(openbatch completion bash)
# Words that may follow the command line typed so far (the words after "openbatch", the last one being completed).
_openbatch_candidates() {
  local -A subs=(
${subs}
  )
  local -A opts=(
${opts}
  )
  local cmdpath=openbatch w prev=""
  local n=$#
  local cur=\${!n}
  while [ $# -gt 1 ]; do
    w=$1; shift
    [[ -n "\${opts[$cmdpath $w]+x}" ]] && cmdpath="$cmdpath $w"
    prev=$w
  done
  case "$prev" in
    ${STATE_FLAGS}) compgen -W ${q(STATES.join(' '))} -- "$cur"; return ;;
  esac
  [[ $cmdpath == "openbatch completion" && $cur != -* ]] && { compgen -W 'bash zsh' -- "$cur"; return; }
  if [[ $cur == -* ]]; then compgen -W "\${opts[$cmdpath]}" -- "$cur"
  else compgen -W "\${subs[$cmdpath]}" -- "$cur"; fi
}
_openbatch() {
  mapfile -t COMPREPLY < <(_openbatch_candidates "\${COMP_WORDS[@]:1:COMP_CWORD}")
}
complete -F _openbatch openbatch
`;
}

function zsh(tree: Node[]): string {
  const subs = tree.map((n) => `    ${q(n.path)} ${q(n.subcommands.join(' '))}`).join('\n');
  const opts = tree.map((n) => `    ${q(n.path)} ${q(n.options.join(' '))}`).join('\n');
  return `#compdef openbatch
# openbatch completion for zsh. Load it with: source <(openbatch completion zsh) (after compinit),
# or save it as _openbatch in a directory on $fpath.
# Words that may follow the command line typed so far (the words after "openbatch", the last one being completed).
_openbatch_candidates() {
  local -A subs opts
  subs=(
${subs}
  )
  opts=(
${opts}
  )
  local cmdpath=openbatch w prev=""
  local cur=\${@[-1]}
  for w in "\${@[1,-2]}"; do
    (( \${+opts[$cmdpath $w]} )) && cmdpath="$cmdpath $w"
    prev=$w
  done
  local -a cands
  case $prev in
    ${STATE_FLAGS}) cands=(${STATES.join(' ')}) ;;
    *)
      if [[ $cmdpath == "openbatch completion" && $cur != -* ]]; then cands=(bash zsh)
      elif [[ $cur == -* ]]; then cands=(\${=opts[$cmdpath]})
      else cands=(\${=subs[$cmdpath]}); fi ;;
  esac
  local c
  for c in $cands; do [[ $c == "$cur"* ]] && print -r -- $c; done
  return 0
}
_openbatch() {
  local -a cands
  cands=("\${(@f)$(_openbatch_candidates "\${(@)words[2,CURRENT]}")}")
  compadd -- \${cands:#}
}
if (( $+functions[compdef] )); then compdef _openbatch openbatch; fi
`;
}

/** Registers `openbatch completion bash|zsh`; call it last, so the script knows every command. */
export function registerCompletion(program: Command): void {
  program
    .command('completion')
    .description('print a shell completion script: source <(openbatch completion bash) (or zsh)')
    .argument('<shell>', 'bash or zsh')
    .action((shell: string) => {
      const tree = commandTree(program);
      if (shell === 'bash') process.stdout.write(bash(tree));
      else if (shell === 'zsh') process.stdout.write(zsh(tree));
      else throw new UsageError(`completion: shell ${JSON.stringify(shell)} is not supported; use bash or zsh`);
    });
}
