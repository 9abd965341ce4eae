// The Claude Code CLI (-p mode) through Qlaud, on the Anthropic route and on DeepSeek-style OpenAI routes,
// with a round trip through its built-in Read tool on a file the test creates.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { startStack, models, prices } from '../lib/stack.js';
import { assertUpstream, toolResults, toolNames } from '../lib/upstream.js';

const claudeBin = path.resolve(import.meta.dirname, '..', 'node_modules', '.bin', 'claude');

let stack;
before(async () => {
  stack = await startStack();
});
after(async () => {
  await stack?.stop();
});

/** Runs `claude -p` the way a user at a shell would, kept offline and non-interactive. */
function runClaude({ prompt, model, format, cwd, key = stack.key }) {
  const home = path.join(cwd, 'home');
  const args = ['-p', prompt, '--model', model, '--output-format', format, '--allowedTools', 'Read', '--max-turns', '4'];
  if (format === 'stream-json') args.push('--verbose');
  const env = {
    PATH: process.env.PATH,
    HOME: home,
    CLAUDE_CONFIG_DIR: path.join(home, '.claude'),
    ANTHROPIC_BASE_URL: stack.gatewayUrl,
    ANTHROPIC_AUTH_TOKEN: key,
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    DISABLE_TELEMETRY: '1',
    DISABLE_AUTOUPDATER: '1',
    DISABLE_ERROR_REPORTING: '1',
    DISABLE_BUG_COMMAND: '1',
    // Anything that is not the gateway goes to a closed loopback port instead of the network.
    HTTPS_PROXY: 'http://127.0.0.1:9',
    HTTP_PROXY: 'http://127.0.0.1:9',
    NO_PROXY: '127.0.0.1,localhost',
    TERM: 'dumb',
  };
  return new Promise((resolve, reject) => {
    const child = spawn(claudeBin, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** A working directory with a file whose secret only the Read tool can reveal. */
function workspace() {
  const cwd = mkdtempSync(path.join(stack.home, 'claude-'));
  const secret = `PAPAYA-${randomBytes(3).toString('hex').toUpperCase()}`;
  const file = path.join(cwd, 'notes.txt');
  writeFileSync(file, `The secret word is ${secret}.\n`);
  return { cwd, file, secret };
}

/** Scripts turn 1 (a Read call, optionally after reasoning) and turn 2 (the answer after the tool result). */
async function scriptReadRoundTrip(marker, file, secret, reasoning) {
  const first = { tool_calls: [{ name: 'Read', arguments: { file_path: file } }], usage: { input_tokens: 1200, output_tokens: 20 } };
  if (reasoning) first.reasoning = 'The user wants the secret word; I should read notes.txt first.';
  const answer = `The secret word is ${secret}.`;
  await stack.script(marker, [first, { text: answer, usage: { input_tokens: 1300, output_tokens: 9 } }]);
  return answer;
}

async function assertReadReachedUpstream(marker, model, file, secret) {
  const [first, second] = await assertUpstream(stack, marker, model, 2);
  assert.ok(toolNames(first.body).includes('Read'), `the Read tool was declared: ${toolNames(first.body).join(', ')}`);
  assert.equal(toolResults(first.body).length, 0);
  const results = toolResults(second.body);
  assert.equal(results.length, 1, 'the second turn carries one tool result');
  assert.ok(results[0].text.includes(secret), `the tool result carries the file's content: ${results[0].text}`);
  assert.ok(JSON.stringify(second.body).includes(file), 'the second turn repeats the tool call with its file path');
}

/** Claude Code's last output line (its result) and stderr, and the gateway's log: what explains a failed run. */
function failure(run) {
  const last = run.stdout.trim().split('\n').at(-1) ?? '';
  return `claude exited ${run.code ?? run.signal}\nresult: ${last}\nstderr: ${run.stderr}\ngateway:\n${stack.serverLog()}`;
}

function parseJsonResult(run) {
  assert.equal(run.code, 0, failure(run));
  return JSON.parse(run.stdout);
}

function parseStream(run) {
  assert.equal(run.code, 0, failure(run));
  return run.stdout.split('\n').filter((l) => l.trim().length > 0).map((l) => JSON.parse(l));
}

function blocks(events, type, blockType) {
  return events.filter((e) => e.type === type).flatMap((e) => e.message?.content ?? []).filter((b) => b.type === blockType);
}

for (const model of [models.claude, models.deepseekChat, models.deepseekReasoner]) {
  const reasoning = model === models.deepseekReasoner;

  describe(`claude -p on ${model}`, () => {
    test(`--output-format json: Read round trip, answer, usage and the ledger`, async () => {
      const { cwd, file, secret } = workspace();
      const marker = stack.marker('cc-json');
      const answer = await scriptReadRoundTrip(marker, file, secret, reasoning);
      const userKey = await stack.mintKey(marker);

      const run = await runClaude({ prompt: `${marker}: what is the secret word in notes.txt?`, model, format: 'json', cwd, key: userKey.secret });
      const result = parseJsonResult(run);

      assert.equal(result.type, 'result');
      assert.equal(result.subtype, 'success');
      assert.equal(result.is_error, false, `claude reported an error: ${result.result}`);
      assert.equal(result.result, answer);
      assert.equal(result.num_turns, 2);
      assert.equal(result.usage.input_tokens, 1200 + 1300);
      assert.equal(result.usage.output_tokens, 20 + 9);
      await assertReadReachedUpstream(marker, model, file, secret);

      // The gateway billed the user's key for exactly what the upstream reported, at the route's prices.
      const totals = await stack.usageOf(userKey.id, 2);
      assert.equal(totals.requests, 2);
      assert.equal(totals.input_tokens, 1200 + 1300);
      assert.equal(totals.output_tokens, 20 + 9);
      const expectedMicros = (1200 + 1300) * prices[model].input + (20 + 9) * prices[model].output;
      assert.ok(Math.abs(totals.upstream_cost_micros - expectedMicros) <= 2, `upstream_cost_micros ${totals.upstream_cost_micros}, expected ${expectedMicros}`);
      rmSync(cwd, { recursive: true, force: true });
    });

    test(`--output-format stream-json --verbose: Read round trip event by event`, async () => {
      const { cwd, file, secret } = workspace();
      const marker = stack.marker('cc-stream');
      const answer = await scriptReadRoundTrip(marker, file, secret, reasoning);

      const run = await runClaude({ prompt: `${marker}: what is the secret word in notes.txt?`, model, format: 'stream-json', cwd });
      const events = parseStream(run);

      const init = events.find((e) => e.type === 'system' && e.subtype === 'init');
      assert.ok(init, 'a system init event');
      assert.equal(init.model, model);
      assert.ok(init.tools.includes('Read'));

      const toolUses = blocks(events, 'assistant', 'tool_use');
      assert.equal(toolUses.length, 1);
      assert.equal(toolUses[0].name, 'Read');
      assert.equal(toolUses[0].input.file_path, file);

      const toolResultBlocks = blocks(events, 'user', 'tool_result');
      assert.equal(toolResultBlocks.length, 1);
      assert.equal(toolResultBlocks[0].tool_use_id, toolUses[0].id);
      assert.ok(JSON.stringify(toolResultBlocks[0].content).includes(secret));
      assert.ok(!toolResultBlocks[0].is_error, `the Read tool failed: ${JSON.stringify(toolResultBlocks[0].content)}`);

      if (reasoning) {
        const thinking = blocks(events, 'assistant', 'thinking');
        assert.equal(thinking.length, 1, 'the reasoning reaches Claude Code as one thinking block');
        assert.equal(thinking[0].thinking, 'The user wants the secret word; I should read notes.txt first.');
        assert.ok(typeof thinking[0].signature === 'string' && thinking[0].signature.length > 0, 'the thinking block is signed');
      }

      const texts = blocks(events, 'assistant', 'text').map((b) => b.text).join('');
      assert.equal(texts, answer);

      const result = events.at(-1);
      assert.equal(result.type, 'result');
      assert.equal(result.subtype, 'success');
      assert.equal(result.is_error, false, `claude reported an error: ${result.result}`);
      assert.equal(result.result, answer);
      assert.equal(result.usage.input_tokens, 1200 + 1300);
      assert.equal(result.usage.output_tokens, 20 + 9);
      await assertReadReachedUpstream(marker, model, file, secret);
      rmSync(cwd, { recursive: true, force: true });
    });
  });
}
