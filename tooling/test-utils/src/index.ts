export { type AllCloseOptions, type AllCloseResult, allClose } from './all-close';
export {
  describeWithShared,
  type SharedStatus,
  sharedAvailable,
  sharedFile,
  sharedRoot,
} from './shared-data';
