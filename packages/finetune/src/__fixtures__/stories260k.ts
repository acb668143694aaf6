// TEST-ONLY: the shared files the stories260K tests need.
export const stories260kFiles = ['models/stories260K/stories260K.bin', 'models/stories260K/tok512.bin'];
