// Every registered command documents itself: `meld --help` lists it, `meld CMD --help` explains each
// flag its parser accepts (as an option line, with its default) and gives an example, and an unknown flag is a usage
// error (exit 2) that names the flag.
import { describe, expect, it } from 'vitest';
import { commands } from './commands/index';
import { runMeld } from './commands/run-meld-for-tests';

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('meld help', () => {
  it('meld --help lists every command with its one-line summary and the exit codes', async () => {
    const result = await runMeld(['--help']);
    expect(result.code).toBe(0);
    for (const command of commands) {
      expect(result.stdout).toMatch(
        new RegExp(`^  ${escapeRegExp(command.name.join(' '))} +${escapeRegExp(command.summary)}$`, 'm'),
      );
      expect(command.summary).not.toContain('\n');
    }
    expect(result.stdout).toMatch(/Exit codes: 0 .* 1 .* 2 /);
  });

  describe.each(commands.map((command) => [command.name.join(' '), command] as const))(
    'meld %s',
    (name, command) => {
      it('--help explains every flag the parser accepts, on an option line, and shows an example', async () => {
        const result = await runMeld([...command.name, '--help']);
        expect(result.code).toBe(0);
        expect(Object.keys(command.flags).length).toBeGreaterThan(0);
        for (const flag of Object.keys(command.flags)) {
          // `  --flag ...` at the start of a line, not a longer flag that begins with the same letters
          expect(result.stdout, `--${flag}`).toMatch(new RegExp(`^ +--${escapeRegExp(flag)}(?![\\w-])`, 'm'));
        }
        expect(result.stdout).toMatch(new RegExp(`Example:\\n +meld ${escapeRegExp(name)} `));
        // each option's entry (its line and the indented lines under it) states its default
        const entries = result.stdout
          .slice(result.stdout.indexOf('Options:'), result.stdout.indexOf('Example:'))
          .split(/\n(?= {2}--)/)
          .filter((entry) => entry.startsWith('  --') && !entry.startsWith('  --help'));
        expect(entries.length).toBeGreaterThanOrEqual(Object.keys(command.flags).length);
        for (const entry of entries) expect(entry).toMatch(/default|required|repeatable/);
      });

      it('rejects an unknown flag with exit 2, naming it', async () => {
        const result = await runMeld([...command.name, '--no-such-flag', 'x']);
        expect(result.code).toBe(2);
        expect(result.stderr).toMatch(/unknown flag --no-such-flag/);
        expect(result.stderr).toContain(`see meld ${name} --help`);
      });
    },
  );
});
