// pnpm bench:finetune — @meld/finetune on stories260K.
//
// 1. Adapters by content: three disjoint slices of ../shared/data/tinystories (stories about animals,
//    stories with a named girl, stories with dialogue; a story joins a slice only when it matches that
//    slice's rule and no other), each split 90/10. One LoRA adapter per slice is trained on its 90%, and
//    every adapter's (and the base model's) held-out perplexity is measured on every slice's 10%.
//    The adapters are written to out/finetune/adapters/<slice>/ (PEFT format, with the slices as JSONL
//    beside them), the inputs for MergeRepair-style and soup experiments. Not committed: regenerate.
// 2. Speed: training tokens/s of meld's trainer against PyTorch on the CPU (Debian's python3-torch
//    1.13 under /usr/bin/python3, installed here with apt-get when missing) running the same model,
//    LoRA, batch and sequence length, in the same run.
//
//   node dist/bench-finetune.js [--per-slice N] [--epochs N] [--speed-steps N] [--batch N]
//                               [--seq-len N] [--only adapters|speed] [--out DIR]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  baseWeightsFromModel,
  crossEntropy,
  encodeSegments,
  evaluateRows,
  FrozenModel,
  finetune,
  type LoraParameters,
  packExamples,
  plainTemplate,
  Tape,
  type TrainingRecord,
  trainForward,
  trainingTokenizerFromModel,
} from '@meld/finetune';
import { loadModel } from '@meld/runtime';
import { setKernelThreads } from '@meld/tensor-core';
import { sharedFile } from '@meld/test-utils';
import { benchArgs } from './bench-args';

const here = dirname(fileURLToPath(import.meta.url));
const modelPath = sharedFile('models/stories260K/stories260K.bin');

const { values: args } = parseArgs({
  args: benchArgs(),
  options: {
    'per-slice': { type: 'string', default: '80' },
    epochs: { type: 'string', default: '2' },
    'speed-steps': { type: 'string', default: '4' },
    batch: { type: 'string', default: '8' },
    'seq-len': { type: 'string', default: '256' },
    only: { type: 'string' },
    out: { type: 'string', default: join(here, '..', 'out', 'finetune') },
  },
});
const outDir = resolve(args.out as string);
mkdirSync(outDir, { recursive: true });
const log = (text: string) => process.stderr.write(`${text}\n`);

// ---------------------------------------------------------------------------------------------
// Slices by content.

const animalPattern =
  /\b(dog|puppy|cat|kitten|bird|bunny|rabbit|fish|bear|lion|frog|duck|mouse|monkey|elephant|horse|cow|pig|fox|owl|squirrel|turtle|butterfly|bee|tiger|giraffe|sheep|deer|snake|dragon)s?\b/gi;
const slices = [
  {
    name: 'animals',
    rule: 'names an animal (dog, cat, bird, ...) at least 3 times',
    test: (s: string) => (s.match(animalPattern) ?? []).length >= 3,
  },
  {
    name: 'named-girl',
    rule: "contains 'girl named <Name>'",
    test: (s: string) => /\bgirl named [A-Z][a-z]+/.test(s),
  },
  {
    name: 'dialogue',
    rule: 'has at least 3 quotations (6 or more " marks)',
    test: (s: string) => (s.match(/"/g) ?? []).length >= 6,
  },
] as const;

function stories(): string[] {
  return readFileSync(sharedFile('data/tinystories/tinystories_val.txt'), 'utf8')
    .split(/\n\n(?=Once upon a time)/)
    .map((s) => s.trim())
    .filter((s) => s.startsWith('Once upon a time'));
}

interface Slice {
  name: string;
  rule: string;
  train: string[];
  heldOut: string[];
}

function buildSlices(perSlice: number): Slice[] {
  const all = stories();
  return slices.map((slice) => {
    const members = all.filter(
      (s) => slice.test(s) && slices.every((other) => other === slice || !other.test(s)),
    );
    const chosen = members.slice(0, perSlice);
    // 90/10: every tenth story is held out.
    return {
      name: slice.name,
      rule: slice.rule,
      train: chosen.filter((_, i) => i % 10 !== 9),
      heldOut: chosen.filter((_, i) => i % 10 === 9),
    };
  });
}

const records = (texts: string[]): TrainingRecord[] =>
  texts.map((text) => ({ format: 'text', record: { text } }));

// ---------------------------------------------------------------------------------------------

async function adapters(): Promise<unknown> {
  const model = await loadModel(modelPath);
  const base = baseWeightsFromModel(model);
  const tokenizer = trainingTokenizerFromModel(model);
  const frozen = new FrozenModel(base);
  const built = buildSlices(Number(args['per-slice']));
  const adapterRoot = join(outDir, 'adapters');
  const trained = new Map<string, LoraParameters>();
  const timings: Record<string, { steps: number; seconds: number; tokensPerSecond: number }> = {};
  for (const slice of built) {
    const dir = join(adapterRoot, slice.name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'train.jsonl'),
      slice.train.map((text) => `${JSON.stringify({ text })}\n`).join(''),
    );
    writeFileSync(
      join(dir, 'heldout.jsonl'),
      slice.heldOut.map((text) => `${JSON.stringify({ text })}\n`).join(''),
    );
    log(`training ${slice.name}: ${slice.train.length} stories (held out ${slice.heldOut.length})`);
    const started = performance.now();
    const result = await finetune({
      base,
      tokenizer,
      records: records(slice.train),
      options: {
        outputDir: dir,
        baseModel: 'stories260K',
        template: 'plain',
        lora: { rank: 8, alpha: 16, dropout: 0.05 },
        epochs: Number(args.epochs),
        learningRate: 3e-3,
        batchSize: 8,
        seqLen: 128,
        warmupSteps: 2,
      },
      onProgress: (e) => {
        if (e.type === 'step-end' && (e.step % 10 === 0 || e.step === e.totalSteps)) {
          log(
            `  step ${e.step}/${e.totalSteps} loss ${e.loss.toFixed(3)} ${e.tokensPerSecond.toFixed(0)} tok/s`,
          );
        }
      },
    });
    trained.set(slice.name, result.lora);
    timings[slice.name] = {
      steps: result.steps,
      seconds: (performance.now() - started) / 1000,
      tokensPerSecond: result.tokensPerSecond,
    };
  }
  const heldOutRows = new Map(
    built.map((slice) => [
      slice.name,
      packExamples(
        records(slice.heldOut).map((r) => encodeSegments(plainTemplate.render(r), tokenizer)),
        { seqLen: 256 },
      ),
    ]),
  );
  const perplexity: Record<string, Record<string, number>> = {};
  for (const adapterName of ['base', ...built.map((s) => s.name)]) {
    perplexity[adapterName] = {};
    const lora = trained.get(adapterName);
    for (const slice of built) {
      const rows = heldOutRows.get(slice.name) ?? [];
      perplexity[adapterName][slice.name] = evaluateRows(frozen, rows, lora ? { lora } : {}).perplexity;
    }
  }
  const header = `| model \\ held-out slice | ${built.map((s) => s.name).join(' | ')} |`;
  const table = [
    header,
    `| --- | ${built.map(() => '---:').join(' | ')} |`,
    ...Object.entries(perplexity).map(
      ([name, row]) =>
        `| ${name === 'base' ? 'base stories260K' : `adapter ${name}`} | ${built
          .map((s) => {
            const value = row[s.name].toFixed(3);
            return name === s.name ? `**${value}**` : value;
          })
          .join(' | ')} |`,
    ),
  ].join('\n');
  writeFileSync(
    join(adapterRoot, 'README.md'),
    [
      '# stories260K LoRA adapters by content (generated by `pnpm bench:finetune`; not committed)',
      '',
      'Each folder is a PEFT LoRA adapter (adapter_model.safetensors + adapter_config.json, r=8, alpha=16,',
      `dropout 0.05, all attention and MLP linears) trained for ${args.epochs} epochs on train.jsonl; heldout.jsonl`,
      'is the 10% kept out. Slices are disjoint: a story belongs to a slice when it matches its rule and no other.',
      '',
      ...built.map((s) => `- ${s.name}: ${s.rule} (${s.train.length} train, ${s.heldOut.length} held out)`),
      '',
      'Held-out perplexity (lower is better; bold: the adapter on its own slice):',
      '',
      table,
      '',
    ].join('\n'),
  );
  process.stdout.write(
    `\n## Adapters by content: held-out perplexity\n\n${table}\n\nadapters in ${adapterRoot}\n`,
  );
  return {
    slices: built.map((s) => ({
      name: s.name,
      rule: s.rule,
      train: s.train.length,
      heldOut: s.heldOut.length,
    })),
    perplexity,
    timings,
  };
}

// ---------------------------------------------------------------------------------------------

function ensureTorch(): { ok: boolean; note: string } {
  const probe = () =>
    spawnSync('/usr/bin/python3', ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
  let result = probe();
  if (result.status === 0) return { ok: true, note: `torch ${result.stdout.trim()}` };
  log('python3-torch missing: apt-get update && apt-get install -y python3-torch');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const update = spawnSync('apt-get', ['update'], { stdio: 'inherit', env });
  const install = spawnSync('apt-get', ['install', '-y', 'python3-torch'], { stdio: 'inherit', env });
  result = probe();
  if (result.status === 0) return { ok: true, note: `torch ${result.stdout.trim()} (installed now)` };
  return {
    ok: false,
    note: `could not install python3-torch (apt-get update ${update.status}, install ${install.status})`,
  };
}

async function speed(): Promise<unknown> {
  const batchSize = Number(args.batch);
  const seqLen = Number(args['seq-len']);
  const steps = Number(args['speed-steps']);
  const lora = { rank: 8, alpha: 16, dropout: 0.05 };
  const model = await loadModel(modelPath);
  const base = baseWeightsFromModel(model);
  const tokenizer = trainingTokenizerFromModel(model);
  const texts = stories().slice(0, 64);
  // One plain causal batch, shared with PyTorch: a token stream cut into rows.
  const stream = texts.flatMap((t) => tokenizer.encode(t, { addBos: true }));
  const inputIds = Int32Array.from(stream.slice(0, batchSize * seqLen));
  const targets = Int32Array.from(stream.slice(1, batchSize * seqLen + 1));
  const batchFile = join(outDir, 'speed-batch.json');
  writeFileSync(batchFile, JSON.stringify({ inputIds: [...inputIds], targets: [...targets] }));
  const jsLoss = crossEntropy(
    new Tape(false),
    trainForward(new Tape(false), new FrozenModel(base), { batch: batchSize, seqLen, inputIds }),
    targets,
    new Float32Array(targets.length).fill(1),
  ).loss.data[0];

  // meld: the real trainer (packing, accumulation 1), timing steps after the first; matmul threads 1 and 2.
  const meld: Array<{ threads: number; tokensPerSecond: number }> = [];
  for (const threads of [1, 2]) {
    setKernelThreads(threads);
    const rates: number[] = [];
    let last = performance.now();
    await finetune({
      base,
      tokenizer,
      records: records(texts),
      options: {
        outputDir: join(outDir, 'speed-adapter'),
        template: 'plain',
        lora,
        batchSize,
        seqLen,
        maxSteps: steps + 1,
        learningRate: 1e-3,
      },
      onProgress: (e) => {
        if (e.type !== 'step-end') return;
        const now = performance.now();
        if (e.step > 1) rates.push((batchSize * seqLen) / ((now - last) / 1000));
        last = now;
      },
    });
    const rate = rates.length / rates.reduce((s, r) => s + 1 / r, 0);
    meld.push({ threads, tokensPerSecond: rate });
    log(`meld (matmul threads ${threads}): ${rate.toFixed(0)} tok/s`);
  }
  setKernelThreads(1);
  const meldRate = meld[0].tokensPerSecond;

  const torch = ensureTorch();
  const peers: Array<{ threads: number; tokensPerSecond: number; initialLoss: number; torch: string }> = [];
  if (torch.ok) {
    for (const threads of [1, 2]) {
      const spec = {
        model: modelPath,
        batch: batchFile,
        batchSize,
        seqLen,
        rank: lora.rank,
        alpha: lora.alpha,
        dropout: lora.dropout,
        lr: 1e-3,
        warmup: 1,
        steps,
        threads,
      };
      const run = spawnSync(
        '/usr/bin/python3',
        [join(here, '..', 'src', 'bench-finetune-torch.py'), JSON.stringify(spec)],
        {
          encoding: 'utf8',
        },
      );
      if (run.status !== 0) {
        log(`pytorch failed: ${run.stderr}`);
        continue;
      }
      const parsed = JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}');
      peers.push(parsed);
      log(
        `pytorch (${parsed.threads} threads): ${parsed.tokensPerSecond.toFixed(0)} tok/s, initial loss ${parsed.initialLoss}`,
      );
    }
  }
  const rows = [
    `| engine | threads | training tok/s | meld (1 thread) / engine | initial loss on the shared batch |`,
    '| --- | ---: | ---: | ---: | ---: |',
    ...meld.map(
      (m) =>
        `| meld (@meld/finetune) | ${m.threads === 1 ? '1' : `${m.threads} (matmuls)`} | ${m.tokensPerSecond.toFixed(0)} | ${(meldRate / m.tokensPerSecond).toFixed(2)} | ${jsLoss.toFixed(5)} |`,
    ),
    ...peers.map(
      (p) =>
        `| PyTorch ${p.torch} CPU | ${p.threads} | ${p.tokensPerSecond.toFixed(0)} | ${(meldRate / p.tokensPerSecond).toFixed(2)} | ${p.initialLoss.toFixed(5)} |`,
    ),
  ].join('\n');
  process.stdout.write(
    `\n## Training speed: stories260K, LoRA r=${lora.rank} on all linears, batch ${batchSize} x ${seqLen} tokens\n\n${rows}\n${torch.ok ? '' : `\nPyTorch: ${torch.note}\n`}`,
  );
  return {
    batchSize,
    seqLen,
    steps,
    meld,
    meldInitialLoss: jsLoss,
    pytorch: peers,
    torchNote: torch.note,
  };
}

const jsonPath = join(outDir, 'results.json');
// Runs with --only update their half and keep the other.
const results: Record<string, unknown> = existsSync(jsonPath)
  ? JSON.parse(readFileSync(jsonPath, 'utf8'))
  : {};
if (args.only !== 'speed') results.adapters = await adapters();
if (args.only !== 'adapters') results.speed = await speed();
writeFileSync(jsonPath, `${JSON.stringify(results, null, 2)}\n`);
log(`wrote ${jsonPath}`);
