// Starts the fake provider and Qlaud.Server as child processes on 127.0.0.1 and gives the tests
// what they need: the gateway's URL and key, the fake's control endpoints (script replies, read
// what reached the upstream), and a stop() that ends both processes.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

// The clients read their keys and base URLs from these when a test does not pass them: a developer's own
// settings must not send a test anywhere but the gateway.
for (const name of Object.keys(process.env)) {
  if (/^(ANTHROPIC_|OPENAI_|CLAUDE_|DEEPSEEK_|LANGCHAIN_|LANGSMITH_)/.test(name)) delete process.env[name];
}

export const repoRoot = path.resolve(import.meta.dirname, '..', '..', '..');
const configuration = process.env.QLAUD_E2E_CONFIGURATION || 'Release';
const fakeDll = path.join(repoRoot, 'tests', 'Shared', 'Qlaud.FakeProvider', 'bin', configuration, 'net10.0', 'Qlaud.FakeProvider.dll');
const serverDll = path.join(repoRoot, 'samples', 'Qlaud.Server', 'bin', configuration, 'net10.0', 'Qlaud.Server.dll');

/** The gateway's models: one per route kind, each served by the fake provider. */
export const models = {
  // Anthropic dialect upstream: same-dialect for Anthropic clients, translated for OpenAI clients.
  claude: 'claude-e2e',
  // OpenAI dialect upstream (the built-in deepseek provider pointed at the fake).
  deepseekChat: 'deepseek-chat',
  // OpenAI dialect reasoning model: the fake answers with reasoning_content, as DeepSeek does.
  deepseekReasoner: 'deepseek-reasoner',
  // An embedding model on the OpenAI-dialect deepseek provider (POST {BaseUrl}/embeddings at the fake).
  embedding: 'embed-e2e',
};

/** Each route's prices in USD per million tokens (input, output), as configured below. */
export const prices = {
  [models.claude]: { input: 3, output: 15 },
  [models.deepseekChat]: { input: 0.27, output: 1.1 },
  [models.deepseekReasoner]: { input: 0.55, output: 2.19 },
  [models.embedding]: { input: 0.02, output: 0 },
};

/** The upstream model ids the fake receives for each gateway model. */
export const upstreamModels = {
  [models.claude]: 'claude-e2e-upstream',
  [models.deepseekChat]: 'deepseek-chat',
  [models.deepseekReasoner]: 'deepseek-reasoner',
  [models.embedding]: 'embed-e2e-upstream',
};

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Environment for a child process: nothing from the caller's environment but PATH and the dotnet location. */
function baseEnvironment(home) {
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    DOTNET_CLI_TELEMETRY_OPTOUT: '1',
    DOTNET_NOLOGO: '1',
    DOTNET_ENVIRONMENT: 'Production',
    ASPNETCORE_ENVIRONMENT: 'Production',
  };
  for (const name of ['DOTNET_ROOT', 'DOTNET_HOST_PATH']) {
    if (process.env[name]) env[name] = process.env[name];
  }
  return env;
}

function startProcess(name, args, env, readyMarker, timeoutMs) {
  const child = spawn('dotnet', args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = [];
  const onData = (chunk) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.length === 0) continue;
      lines.push(line);
      if (lines.length > 400) lines.shift();
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} printed no '${readyMarker}' within ${timeoutMs} ms:\n${lines.join('\n')}`)), timeoutMs);
    const check = () => {
      if (lines.some((l) => l.includes(readyMarker))) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', check);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with code ${code} before it was ready:\n${lines.join('\n')}`));
    });
  });
  return { child, lines, ready };
}

function stopProcess(proc) {
  if (!proc || proc.child.exitCode !== null || proc.child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      proc.child.kill('SIGKILL');
      resolve();
    }, 10_000);
    proc.child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    proc.child.kill('SIGTERM');
  });
}

/**
 * Starts the fake provider (recording, control endpoints on) and Qlaud.Server in front of it.
 * Every test conversation carries a marker of its own; `script(marker, replies)` makes the fake answer
 * the requests that contain it, and `upstreamRequests(marker)` returns what reached the fake for it.
 */
export async function startStack() {
  for (const dll of [fakeDll, serverDll]) {
    if (!existsSync(dll)) {
      throw new Error(`${dll} is missing: build it first (tests/e2e/run.sh does: dotnet build samples/Qlaud.Server -c ${configuration} and tests/Shared/Qlaud.FakeProvider).`);
    }
  }

  const home = mkdtempSync(path.join(tmpdir(), 'qlaud-e2e-'));
  const [fakePort, gatewayPort] = [await freePort(), await freePort()];
  const fakeUrl = `http://127.0.0.1:${fakePort}`;
  const gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
  const key = `qlk_live_e2e${randomBytes(16).toString('hex')}`;

  let fake;
  let server;
  // If the test process dies without after(), its servers must not outlive it.
  const killAll = () => {
    for (const proc of [fake, server]) if (proc && proc.child.exitCode === null) proc.child.kill('SIGKILL');
  };
  process.once('exit', killAll);

  fake = startProcess('fake provider', [fakeDll, '--urls', fakeUrl, '--record', '--control'], baseEnvironment(home), 'fake-provider listening on', 60_000);
  try {
    await fake.ready;
    const env = {
      ...baseEnvironment(home),
      Logging__LogLevel__Default: 'Warning',
      Qlaud__Bootstrap__MasterKey: key,
      Qlaud__Storage__ConnectionString: `Data Source=${path.join(home, 'qlaud.db')}`,
      // Built-in providers pointed at the fake; every other provider has no key, so nothing leaves 127.0.0.1.
      Qlaud__Providers__anthropic__BaseUrl: fakeUrl,
      Qlaud__Providers__anthropic__ApiKey: 'fake-anthropic-key',
      Qlaud__Providers__deepseek__BaseUrl: `${fakeUrl}/v1`,
      Qlaud__Providers__deepseek__ApiKey: 'fake-deepseek-key',
      Qlaud__Routing__MaxRetries: '0',
    };
    const modelEntries = [
      { id: models.claude, provider: 'anthropic', capabilities: ['tools', 'vision', 'json', 'reasoning'] },
      // The two DeepSeek models configured as the README's Claude Code section does.
      { id: models.deepseekChat, provider: 'deepseek', capabilities: [] },
      { id: models.deepseekReasoner, provider: 'deepseek', capabilities: ['tools', 'reasoning'] },
      { id: models.embedding, provider: 'deepseek', capabilities: ['embeddings'] },
    ];
    modelEntries.forEach((m, i) => {
      env[`Qlaud__Models__${i}__Id`] = m.id;
      m.capabilities.forEach((c, j) => {
        env[`Qlaud__Models__${i}__Capabilities__${j}`] = c;
      });
      env[`Qlaud__Models__${i}__Routes__0__Provider`] = m.provider;
      env[`Qlaud__Models__${i}__Routes__0__UpstreamModel`] = upstreamModels[m.id];
      env[`Qlaud__Models__${i}__Routes__0__InputPerMTok`] = String(prices[m.id].input);
      env[`Qlaud__Models__${i}__Routes__0__OutputPerMTok`] = String(prices[m.id].output);
    });
    server = startProcess('Qlaud.Server', [serverDll, '--urls', gatewayUrl], env, 'Qlaud gateway listening on', 120_000);
    await server.ready;
  } catch (error) {
    await stopProcess(server);
    await stopProcess(fake);
    rmSync(home, { recursive: true, force: true });
    throw error;
  }

  const control = async (method, route, body) => {
    const response = await fetch(`${fakeUrl}/_fake/${route}`, {
      method,
      headers: body ? { 'content-type': 'application/json' } : undefined,
      body: body ? JSON.stringify(body) : undefined,
    });
    if (!response.ok) throw new Error(`fake control ${method} ${route}: ${response.status} ${await response.text()}`);
    return response.status === 204 ? null : response.json();
  };

  let markerCount = 0;
  return {
    gatewayUrl,
    fakeUrl,
    key,
    home,
    /** A marker unique to one conversation, to put in its first user message. */
    marker(label = 'conv') {
      markerCount += 1;
      return `e2e-${label}-${markerCount}-${randomBytes(4).toString('hex')}`;
    },
    /** The fake answers requests whose body contains `match` with `replies`, in order (see the fake's README). */
    script: (match, replies) => control('POST', 'script', { match, replies }),
    /** The chat requests that reached the fake and contain `match` (all when omitted), oldest first. */
    async upstreamRequests(match) {
      const all = await control('GET', 'requests');
      return all.filter((r) => !match || JSON.stringify(r.body).includes(match));
    },
    /** Mints a standard key with the master key (POST /v1/keys); returns `{ id, secret }`. */
    async mintKey(name) {
      const response = await fetch(`${gatewayUrl}/v1/keys`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name }),
      });
      if (!response.ok) throw new Error(`POST /v1/keys: ${response.status} ${await response.text()}`);
      const minted = await response.json();
      return { id: minted.id, secret: minted.secret };
    },
    /**
     * The ledger's totals for one key (GET /v1/usage?key_id=), once they count `requests` requests: spend is settled
     * after the answer has reached the client, so the last rows may land a moment later. Gives up after 15 s.
     */
    async usageOf(keyId, requests) {
      let totals;
      for (let i = 0; i < 150; i++) {
        const response = await fetch(`${gatewayUrl}/v1/usage?key_id=${encodeURIComponent(keyId)}`, { headers: { authorization: `Bearer ${key}` } });
        if (!response.ok) throw new Error(`GET /v1/usage: ${response.status} ${await response.text()}`);
        totals = (await response.json()).totals;
        if (totals.requests >= requests) return totals;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      return totals;
    },
    /** The gateway's log lines (warnings and errors), for failure messages. */
    serverLog: () => server.lines.join('\n'),
    async stop() {
      await stopProcess(server);
      await stopProcess(fake);
      rmSync(home, { recursive: true, force: true });
    },
  };
}
