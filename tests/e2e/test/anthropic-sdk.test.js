// The official Anthropic TypeScript SDK (@anthropic-ai/sdk) through Qlaud: same-dialect (claude-e2e) and
// translated (deepseek-chat, deepseek-reasoner) routes; non-stream, stream and a tool round trip.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import { startStack, models, upstreamModels } from '../lib/stack.js';
import { assertUpstream, toolResults } from '../lib/upstream.js';

let stack;
let client;
before(async () => {
  stack = await startStack();
  client = new Anthropic({ baseURL: stack.gatewayUrl, apiKey: stack.key, maxRetries: 0, timeout: 60_000 });
});
after(async () => {
  await stack?.stop();
});

const REASONING = 'The user greets me; a short greeting back is enough.';
const weatherTool = {
  name: 'get_weather',
  description: 'Current weather for a city.',
  input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

for (const model of [models.claude, models.deepseekChat, models.deepseekReasoner]) {
  const reasoning = model === models.deepseekReasoner;

  describe(`@anthropic-ai/sdk on ${model}`, () => {
    test('messages.create: answer, usage and what reached the upstream', async () => {
      const marker = stack.marker('ant');
      await stack.script(marker, [{ text: 'Hello from the model.', ...(reasoning ? { reasoning: REASONING } : {}), usage: { input_tokens: 31, output_tokens: 7 } }]);

      const message = await client.messages.create({ model, max_tokens: 256, messages: [{ role: 'user', content: `${marker} say hello` }] });

      assert.equal(message.type, 'message');
      assert.equal(message.role, 'assistant');
      // A passthrough answer names the upstream's model, as the provider wrote it; a translated one the requested model.
      assert.ok([model, upstreamModels[model]].includes(message.model), `model ${message.model}`);
      assert.equal(message.stop_reason, 'end_turn');
      const text = message.content.filter((b) => b.type === 'text').map((b) => b.text).join('');
      assert.equal(text, 'Hello from the model.');
      if (reasoning) {
        const thinking = message.content.filter((b) => b.type === 'thinking');
        assert.equal(thinking.length, 1);
        assert.equal(thinking[0].thinking, REASONING);
        assert.ok(typeof thinking[0].signature === 'string' && thinking[0].signature.length > 0, 'the thinking block is signed');
        assert.equal(message.content[0].type, 'thinking', 'thinking comes before the text');
      }
      assert.equal(message.usage.input_tokens, 31);
      assert.equal(message.usage.output_tokens, 7);
      const [upstream] = await assertUpstream(stack, marker, model, 1);
      assert.equal(upstream.stream, false);
    });

    test('messages.stream: text deltas, final message and usage', async () => {
      const marker = stack.marker('ant-stream');
      await stack.script(marker, [{ text: 'Streaming works end to end.', ...(reasoning ? { reasoning: REASONING } : {}), chunk_size: 5, usage: { input_tokens: 42, output_tokens: 6 } }]);

      const stream = client.messages.stream({ model, max_tokens: 256, messages: [{ role: 'user', content: `${marker} stream please` }] });
      let deltas = 0;
      stream.on('text', () => {
        deltas += 1;
      });
      const message = await stream.finalMessage();

      assert.ok(deltas > 1, `the text arrived in ${deltas} delta(s)`);
      assert.equal(message.content.filter((b) => b.type === 'text').map((b) => b.text).join(''), 'Streaming works end to end.');
      if (reasoning) {
        const thinking = message.content.find((b) => b.type === 'thinking');
        assert.equal(thinking?.thinking, REASONING);
        assert.ok(thinking.signature?.length > 0, 'the streamed thinking block is signed');
      }
      assert.equal(message.stop_reason, 'end_turn');
      assert.equal(message.usage.input_tokens, 42);
      assert.equal(message.usage.output_tokens, 6);
      const [upstream] = await assertUpstream(stack, marker, model, 1);
      assert.equal(upstream.stream, true);
    });

    test('tool round trip: tool_use, then the answer after the tool_result', async () => {
      const marker = stack.marker('ant-tool');
      const first = { tool_calls: [{ name: 'get_weather', arguments: { city: 'Paris' } }], usage: { input_tokens: 80, output_tokens: 12 } };
      if (reasoning) first.reasoning = 'I need the weather tool.';
      await stack.script(marker, [first, { text: 'It is sunny in Paris.', usage: { input_tokens: 95, output_tokens: 6 } }]);

      const messages = [{ role: 'user', content: `${marker} weather in Paris?` }];
      const turn1 = await client.messages.create({ model, max_tokens: 256, tools: [weatherTool], messages });
      assert.equal(turn1.stop_reason, 'tool_use');
      const toolUse = turn1.content.find((b) => b.type === 'tool_use');
      assert.equal(toolUse.name, 'get_weather');
      assert.deepEqual(toolUse.input, { city: 'Paris' });

      // The client sends the assistant turn back as it came (thinking block included), as Claude Code does.
      messages.push({ role: 'assistant', content: turn1.content });
      messages.push({ role: 'user', content: [{ type: 'tool_result', tool_use_id: toolUse.id, content: 'sunny, 24 °C' }] });
      const turn2 = await client.messages.create({ model, max_tokens: 256, tools: [weatherTool], messages });

      assert.equal(turn2.content.filter((b) => b.type === 'text').map((b) => b.text).join(''), 'It is sunny in Paris.');
      assert.equal(turn2.usage.input_tokens, 95);
      const [, second] = await assertUpstream(stack, marker, model, 2);
      const results = toolResults(second.body);
      assert.equal(results.length, 1);
      assert.equal(results[0].text, 'sunny, 24 °C');
    });
  });
}

describe('@anthropic-ai/sdk and an overloaded upstream', () => {
  test('an Anthropic 529 overloaded_error reaches the SDK as 529 overloaded_error, and nothing is charged', async () => {
    const marker = stack.marker('ant-529');
    await stack.script(marker, [{ error: { status: 529 } }]);
    const key = await stack.mintKey('overloaded');
    const userClient = new Anthropic({ baseURL: stack.gatewayUrl, apiKey: key.secret, maxRetries: 0, timeout: 60_000 });

    await assert.rejects(userClient.messages.create({ model: models.claude, max_tokens: 64, messages: [{ role: 'user', content: `${marker} hello` }] }), (error) => {
      assert.ok(error instanceof Anthropic.APIError, `${error}`);
      assert.equal(error.status, 529);
      assert.equal(error.error?.type, 'error');
      assert.equal(error.error?.error?.type, 'overloaded_error');
      return true;
    });
    await assertUpstream(stack, marker, models.claude, 1);
    // A failed upstream call releases its reservation and charges nothing.
    const view = await fetch(`${stack.gatewayUrl}/v1/keys/${key.id}`, { headers: { authorization: `Bearer ${stack.key}` } });
    assert.equal(view.status, 200);
    const minted = await view.json();
    assert.equal(minted.spend_usd, 0);
    assert.equal(minted.lifetime_spend_usd, 0);
  });
});
