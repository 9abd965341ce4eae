// The Vercel AI SDK (ai) through Qlaud with its Anthropic provider (@ai-sdk/anthropic) and its OpenAI-compatible
// provider (@ai-sdk/openai-compatible), each on a same-dialect, a translated and a reasoning route:
// generateText, streamText and a tool loop (two steps).
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { generateText, streamText, tool, jsonSchema, stepCountIs } from 'ai';
import { createAnthropic } from '@ai-sdk/anthropic';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { startStack, models } from '../lib/stack.js';
import { assertUpstream, toolResults } from '../lib/upstream.js';

let stack;
const providers = {};
before(async () => {
  stack = await startStack();
  providers.anthropic = createAnthropic({ baseURL: `${stack.gatewayUrl}/v1`, apiKey: stack.key });
  providers.openaiCompatible = createOpenAICompatible({ name: 'qlaud', baseURL: `${stack.gatewayUrl}/v1`, apiKey: stack.key, includeUsage: true });
});
after(async () => {
  await stack?.stop();
});

const REASONING = 'Short question, short answer.';
const cases = [
  { provider: 'anthropic', model: models.claude },
  { provider: 'anthropic', model: models.deepseekChat },
  { provider: 'anthropic', model: models.deepseekReasoner },
  { provider: 'openaiCompatible', model: models.deepseekChat },
  { provider: 'openaiCompatible', model: models.deepseekReasoner },
  { provider: 'openaiCompatible', model: models.claude },
];

for (const { provider, model } of cases) {
  const reasoning = model === models.deepseekReasoner;
  const languageModel = () => (provider === 'anthropic' ? providers.anthropic(model) : providers.openaiCompatible.chatModel(model));

  describe(`ai with the ${provider === 'anthropic' ? '@ai-sdk/anthropic' : '@ai-sdk/openai-compatible'} provider on ${model}`, () => {
    test('generateText: text, reasoning and usage', async () => {
      const marker = stack.marker('ai');
      await stack.script(marker, [{ text: 'Hello from the model.', ...(reasoning ? { reasoning: REASONING } : {}), usage: { input_tokens: 31, output_tokens: 7 } }]);

      const result = await generateText({ model: languageModel(), prompt: `${marker} say hello`, maxOutputTokens: 256, maxRetries: 0 });

      assert.equal(result.text, 'Hello from the model.');
      if (reasoning) assert.equal(result.reasoningText, REASONING);
      assert.equal(result.finishReason, 'stop');
      assert.equal(result.usage.inputTokens, 31);
      assert.equal(result.usage.outputTokens, 7);
      await assertUpstream(stack, marker, model, 1);
    });

    test('streamText: text deltas, reasoning and usage', async () => {
      const marker = stack.marker('ai-stream');
      await stack.script(marker, [{ text: 'Streaming works end to end.', ...(reasoning ? { reasoning: REASONING } : {}), chunk_size: 5, usage: { input_tokens: 10, output_tokens: 7 } }]);

      const errors = [];
      const result = streamText({ model: languageModel(), prompt: `${marker} stream please`, maxOutputTokens: 256, maxRetries: 0, onError: ({ error }) => errors.push(error) });
      const parts = [];
      for await (const part of result.textStream) parts.push(part);

      assert.deepEqual(errors, []);
      assert.ok(parts.length > 1, `the text arrived in ${parts.length} part(s)`);
      assert.equal(parts.join(''), 'Streaming works end to end.');
      if (reasoning) assert.equal(await result.reasoningText, REASONING);
      assert.equal(await result.finishReason, 'stop');
      const usage = await result.usage;
      assert.equal(usage.inputTokens, 10);
      assert.equal(usage.outputTokens, 7);
      const [upstream] = await assertUpstream(stack, marker, model, 1);
      assert.equal(upstream.stream, true);
    });

    test('generateText with a tool: the SDK runs the tool and the second step answers', async () => {
      const marker = stack.marker('ai-tool');
      const first = { tool_calls: [{ name: 'get_weather', arguments: { city: 'Paris' } }], usage: { input_tokens: 80, output_tokens: 12 } };
      if (reasoning) first.reasoning = 'I need the weather tool.';
      await stack.script(marker, [first, { text: 'It is sunny in Paris.', usage: { input_tokens: 95, output_tokens: 6 } }]);
      const calls = [];

      const result = await generateText({
        model: languageModel(),
        prompt: `${marker} weather in Paris?`,
        maxOutputTokens: 256,
        maxRetries: 0,
        stopWhen: stepCountIs(3),
        tools: {
          get_weather: tool({
            description: 'Current weather for a city.',
            inputSchema: jsonSchema({ type: 'object', properties: { city: { type: 'string' } }, required: ['city'] }),
            execute: async ({ city }) => {
              calls.push(city);
              return 'sunny, 24 °C';
            },
          }),
        },
      });

      assert.deepEqual(calls, ['Paris']);
      assert.equal(result.steps.length, 2);
      assert.equal(result.text, 'It is sunny in Paris.');
      assert.equal(result.totalUsage.inputTokens, 80 + 95);
      assert.equal(result.totalUsage.outputTokens, 12 + 6);
      const [, second] = await assertUpstream(stack, marker, model, 2);
      const results = toolResults(second.body);
      assert.equal(results.length, 1);
      assert.ok(results[0].text.includes('sunny, 24 °C'), `tool result upstream: ${results[0].text}`);
    });
  });
}
