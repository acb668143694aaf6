// Writing a PEFT adapter folder atomically: staged beside OUT, renamed at the end.
import { stageOutputFolder } from '@meld/model-merge';
import { type LoraAdapter, writePeftAdapter } from '@meld/tensor-core';

/** Writes `adapter` to `outputDir`; a failure leaves OUT untouched. */
export function writeAdapterFolder(outputDir: string, adapter: LoraAdapter, overwrite: boolean): void {
  const staged = stageOutputFolder(outputDir, overwrite);
  try {
    writePeftAdapter(staged.path, adapter);
    staged.commit();
  } catch (error) {
    staged.abort();
    throw error;
  }
}
