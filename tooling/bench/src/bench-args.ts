// The command-line arguments of a bench script. `pnpm bench:x -- --flag` hands the script a
// literal `--` first, after which node:util's parseArgs would take every flag as a positional and
// silently run the defaults; dropping a leading `--` makes both `pnpm bench:x --flag` and
// `pnpm bench:x -- --flag` work.
export function benchArgs(argv: readonly string[] = process.argv.slice(2)): string[] {
  return argv[0] === '--' ? argv.slice(1) : [...argv];
}
