// The named pipe the backup reads pg_dump's and age's output through (lib/backup/named-pipe.ts),
// on a real FIFO: an empty read is the end only once the writer has exited (an early
// empty read, before the writer opened the pipe, once made an age part empty under
// load), a writer that dies without opening the pipe does not leave the read waiting,
// and close removes the pipe's directory.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { constants } from 'node:fs';
import { dirname } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chunksOf, createNamedPipe } from '../../lib/backup/named-pipe.js';

const all = async (pipe: Awaited<ReturnType<typeof createNamedPipe>>) => {
  const parts: Buffer[] = [];
  for await (const c of chunksOf(pipe, 1024)) parts.push(Buffer.from(c));
  return Buffer.concat(parts).toString();
};

test("a writer that opens and closes before the tool does is not the end: the tool's output is read whole", async () => {
  const pipe = await createNamedPipe();
  try {
    const reading = all(pipe);
    // Someone opens the pipe for writing and closes it at once: the reader's open goes
    // through and its next read finds no writer.
    await new Promise((r) => setTimeout(r, 20));
    const w = await open(pipe.path, constants.O_WRONLY | constants.O_NONBLOCK);
    await w.close();
    await new Promise((r) => setTimeout(r, 20));
    // Then the tool writes 5,000 bytes and exits.
    const tool = spawn('sh', ['-c', `sleep 0.05; head -c 5000 /dev/zero | tr '\\\\0' x > "${pipe.path}"`]);
    tool.once('close', () => void pipe.writerGone());
    assert.is((await reading).length, 5000);
  } finally {
    await pipe.close();
  }
});

test('a tool that exits without opening the pipe ends the read with nothing, instead of a wait forever', async () => {
  const pipe = await createNamedPipe();
  try {
    const reading = all(pipe);
    const tool = spawn('sh', ['-c', 'exit 3']);
    tool.once('close', () => void pipe.writerGone());
    assert.is(await reading, '');
  } finally {
    await pipe.close();
  }
  assert.not.ok(existsSync(dirname(pipe.path)), 'the directory is removed');
});

test('output written and the tool gone before the first read is still read whole', async () => {
  const pipe = await createNamedPipe();
  try {
    // The tool opens (blocks until a reader), so start reading after it has begun.
    const tool = spawn('sh', ['-c', `printf hello > "${pipe.path}"`]);
    const closed = new Promise<void>((r) => tool.once('close', () => r()));
    const reading = all(pipe);
    await closed;
    await pipe.writerGone();
    assert.is(await reading, 'hello');
  } finally {
    await pipe.close();
  }
});

test.run();
