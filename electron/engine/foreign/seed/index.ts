export { seedDetector, ENC_PASSPHRASE_NEEDS } from './detector';
export { seedDecipher, detectKdf, kdfText } from './enc';
export { parseSeedName, isSeedName, type SeedName, type InnerFormat } from './names';
export { checkTimeZone, laptopTimeZone, localToUtc } from './time';
