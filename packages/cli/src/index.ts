export type { Command, CommandIO } from './command';
export { UsageError } from './command';
export { main } from './main';
