// Placeholder removed once a real benchmark lands; keeps tsup's glob non-empty.
process.stdout.write('meld benchmarks: run pnpm bench:tensor | bench:runtime | bench:merge | bench:kv\n');
