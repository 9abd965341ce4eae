// Embeddings through Qlaud with the clients users embed with: the OpenAI TypeScript SDK (which asks for base64 and
// decodes it), the Vercel AI SDK (embed / embedMany on @ai-sdk/openai-compatible) and LangChain's OpenAIEmbeddings.
// Every client must get the vectors the upstream produced, the upstream must see only `model` rewritten, and the
// ledger must charge each request's prompt tokens at the route's price.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { embed, embedMany } from 'ai';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { OpenAIEmbeddings } from '@langchain/openai';
import { startStack, models, prices, upstreamModels } from '../lib/stack.js';

const model = models.embedding;
let stack;

before(async () => {
  stack = await startStack();
});
after(async () => {
  await stack?.stop();
});

/** The vectors the fake upstream returns for `inputs`, asked for as JSON floats over raw HTTP through the gateway. */
async function referenceVectors(inputs) {
  const response = await fetch(`${stack.gatewayUrl}/v1/embeddings`, {
    method: 'POST',
    headers: { authorization: `Bearer ${stack.key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, input: inputs, encoding_format: 'float' }),
  });
  assert.equal(response.status, 200, await response.clone().text());
  const body = await response.json();
  return body.data.sort((a, b) => a.index - b.index).map((d) => d.embedding);
}

/** Float32 vectors compare exactly once both sides are rounded to float32 (base64 carries float32, JSON a decimal). */
function assertSameVector(actual, expected, label) {
  assert.equal(actual.length, expected.length, `${label}: length`);
  for (let i = 0; i < expected.length; i++) {
    assert.equal(Math.fround(actual[i]), Math.fround(expected[i]), `${label}: component ${i}`);
  }
}

/** The embedding requests that reached the fake and carry `marker` in their input. */
async function upstreamEmbeddings(marker) {
  const requests = await stack.upstreamRequests(marker);
  for (const request of requests) {
    assert.equal(request.path, '/v1/embeddings');
    assert.equal(request.body.model, upstreamModels[model]);
  }
  return requests;
}

/** Asserts the key's ledger totals: `requests` requests charging `promptTokens` input tokens at the route's price. */
async function assertCharged(keyId, requests, promptTokens) {
  const totals = await stack.usageOf(keyId, requests);
  assert.equal(totals.requests, requests);
  assert.equal(totals.input_tokens, promptTokens);
  assert.equal(totals.output_tokens, 0);
  const expectedMicros = Math.ceil(promptTokens * prices[model].input);
  assert.ok(Math.abs(totals.upstream_cost_micros - expectedMicros) <= requests, `upstream_cost_micros ${totals.upstream_cost_micros}, expected ${expectedMicros}`);
}

describe(`embeddings on ${model}`, () => {
  test('openai: embeddings.create (base64 on the wire, decoded by the SDK) gets the upstream vectors', async () => {
    const marker = stack.marker('emb-oai');
    const inputs = [`${marker} the first text`, `${marker} a second, longer text to embed`];
    const reference = await referenceVectors(inputs);
    const key = await stack.mintKey('openai embeddings');
    const client = new OpenAI({ baseURL: `${stack.gatewayUrl}/v1`, apiKey: key.secret, maxRetries: 0 });

    const result = await client.embeddings.create({ model, input: inputs });

    assert.equal(result.object, 'list');
    assert.equal(result.data.length, 2);
    result.data.forEach((d, i) => assertSameVector(d.embedding, reference[i], `input ${i}`));
    const upstream = await upstreamEmbeddings(marker);
    assert.equal(upstream.length, 2); // the reference call and the SDK's
    assert.equal(upstream[1].body.encoding_format, 'base64');
    assert.deepEqual(upstream[1].body.input, inputs);
    await assertCharged(key.id, 1, result.usage.prompt_tokens);
  });

  test('openai: dimensions reach the upstream and shorten the vectors', async () => {
    const marker = stack.marker('emb-dim');
    const key = await stack.mintKey('openai dimensions');
    const client = new OpenAI({ baseURL: `${stack.gatewayUrl}/v1`, apiKey: key.secret, maxRetries: 0 });

    const result = await client.embeddings.create({ model, input: `${marker} short`, dimensions: 4 });

    assert.equal(result.data[0].embedding.length, 4);
    const [upstream] = await upstreamEmbeddings(marker);
    assert.equal(upstream.body.dimensions, 4);
  });

  test('ai: embed and embedMany on @ai-sdk/openai-compatible', async () => {
    const marker = stack.marker('emb-ai');
    const values = [`${marker} alpha`, `${marker} beta gamma`, `${marker} delta`];
    const reference = await referenceVectors(values);
    const key = await stack.mintKey('ai embeddings');
    const provider = createOpenAICompatible({ name: 'qlaud', baseURL: `${stack.gatewayUrl}/v1`, apiKey: key.secret });

    const many = await embedMany({ model: provider.embeddingModel(model), values, maxRetries: 0 });
    const one = await embed({ model: provider.embeddingModel(model), value: values[0], maxRetries: 0 });

    many.embeddings.forEach((v, i) => assertSameVector(v, reference[i], `value ${i}`));
    assertSameVector(one.embedding, reference[0], 'embed');
    assert.ok(many.usage.tokens > 0);
    await assertCharged(key.id, 2, many.usage.tokens + one.usage.tokens);
  });

  test('langchain: OpenAIEmbeddings embedDocuments and embedQuery', async () => {
    const marker = stack.marker('emb-lc');
    const documents = [`${marker} one document`, `${marker} another document`];
    const query = `${marker} a query`;
    const reference = await referenceVectors([...documents, query]);
    const key = await stack.mintKey('langchain embeddings');
    const embeddings = new OpenAIEmbeddings({ model, apiKey: key.secret, configuration: { baseURL: `${stack.gatewayUrl}/v1` }, maxRetries: 0 });

    const vectors = await embeddings.embedDocuments(documents);
    const queryVector = await embeddings.embedQuery(query);

    vectors.forEach((v, i) => assertSameVector(v, reference[i], `document ${i}`));
    assertSameVector(queryVector, reference[2], 'query');
    const totals = await stack.usageOf(key.id, 2);
    assert.equal(totals.requests, 2);
  });

  test('a key over its cap gets a 402 in the OpenAI shape and the upstream sees nothing', async () => {
    const marker = stack.marker('emb-cap');
    const response = await fetch(`${stack.gatewayUrl}/v1/keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'capped embeddings', max_spend_usd: 0.000001 }),
    });
    assert.equal(response.status, 201, await response.clone().text());
    const capped = await response.json();
    const client = new OpenAI({ baseURL: `${stack.gatewayUrl}/v1`, apiKey: capped.secret, maxRetries: 0 });

    await assert.rejects(client.embeddings.create({ model, input: `${marker} ${'many words '.repeat(200)}` }), (error) => {
      assert.equal(error.status, 402);
      assert.equal(typeof error.error?.message, 'string');
      return true;
    });
    assert.equal((await upstreamEmbeddings(marker)).length, 0);
  });
});
