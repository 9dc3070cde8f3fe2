export {
  findRestic,
  resticFailure,
  resticScope,
  runRestic,
  streamRestic,
  withPasswordFile,
  type ResticRun,
} from './cli';
export { resticDetector, resticRoots, systemOfSnapshot } from './detector';
export { resticCheck, resticFileIndex, resticRestore, resticVerdict, RESTIC_INDEX_LIMIT } from './ops';
