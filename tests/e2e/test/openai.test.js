// The official OpenAI TypeScript SDK (openai) through Qlaud: same-dialect (deepseek-chat, deepseek-reasoner with
// reasoning_content) and translated (claude-e2e) routes; non-stream, stream with usage, and a tool round trip.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startStack, models, upstreamModels } from '../lib/stack.js';
import { assertUpstream, toolResults } from '../lib/upstream.js';

let stack;
let client;
before(async () => {
  stack = await startStack();
  client = new OpenAI({ baseURL: `${stack.gatewayUrl}/v1`, apiKey: stack.key, maxRetries: 0, timeout: 60_000 });
});
after(async () => {
  await stack?.stop();
});

const REASONING = 'A greeting needs no tools; answer briefly.';
const weatherTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather for a city.',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};

for (const model of [models.deepseekChat, models.deepseekReasoner, models.claude]) {
  const reasoning = model === models.deepseekReasoner;

  describe(`openai on ${model}`, () => {
    test('chat.completions.create: answer, usage and what reached the upstream', async () => {
      const marker = stack.marker('oai');
      await stack.script(marker, [{ text: 'Hello from the model.', ...(reasoning ? { reasoning: REASONING } : {}), usage: { input_tokens: 31, output_tokens: 7 } }]);

      const completion = await client.chat.completions.create({ model, max_tokens: 256, messages: [{ role: 'user', content: `${marker} say hello` }] });

      assert.equal(completion.object, 'chat.completion');
      assert.ok([model, upstreamModels[model]].includes(completion.model), `model ${completion.model}`);
      const choice = completion.choices[0];
      assert.equal(choice.finish_reason, 'stop');
      assert.equal(choice.message.role, 'assistant');
      assert.equal(choice.message.content, 'Hello from the model.');
      if (reasoning) assert.equal(choice.message.reasoning_content, REASONING);
      assert.equal(completion.usage.prompt_tokens, 31);
      assert.equal(completion.usage.completion_tokens, 7);
      assert.equal(completion.usage.total_tokens, 38);
      const [upstream] = await assertUpstream(stack, marker, model, 1);
      assert.equal(upstream.stream, false);
    });

    test('stream with stream_options.include_usage: deltas and the final usage chunk', async () => {
      const marker = stack.marker('oai-stream');
      await stack.script(marker, [{ text: 'Streaming works end to end.', ...(reasoning ? { reasoning: REASONING } : {}), chunk_size: 5, usage: { input_tokens: 10, output_tokens: 7 } }]);

      const stream = await client.chat.completions.create({
        model,
        max_tokens: 256,
        stream: true,
        stream_options: { include_usage: true },
        messages: [{ role: 'user', content: `${marker} stream please` }],
      });
      let text = '';
      let reasoningText = '';
      let deltas = 0;
      let finishReason;
      let usage;
      for await (const chunk of stream) {
        assert.equal(chunk.object, 'chat.completion.chunk');
        for (const choice of chunk.choices) {
          if (choice.delta?.content) {
            text += choice.delta.content;
            deltas += 1;
          }
          if (choice.delta?.reasoning_content) reasoningText += choice.delta.reasoning_content;
          if (choice.finish_reason) finishReason = choice.finish_reason;
        }
        if (chunk.usage) usage = chunk.usage;
      }

      assert.equal(text, 'Streaming works end to end.');
      assert.ok(deltas > 1, `the text arrived in ${deltas} delta(s)`);
      if (reasoning) assert.equal(reasoningText, REASONING);
      assert.equal(finishReason, 'stop');
      assert.ok(usage, 'a usage chunk arrived');
      assert.equal(usage.prompt_tokens, 10);
      assert.equal(usage.completion_tokens, 7);
      assert.equal(usage.total_tokens, 17);
      const [upstream] = await assertUpstream(stack, marker, model, 1);
      assert.equal(upstream.stream, true);
    });

    test('tool round trip: tool_calls, then the answer after the tool message', async () => {
      const marker = stack.marker('oai-tool');
      await stack.script(marker, [
        { tool_calls: [{ name: 'get_weather', arguments: { city: 'Paris' } }], usage: { input_tokens: 80, output_tokens: 12 } },
        { text: 'It is sunny in Paris.', usage: { input_tokens: 95, output_tokens: 6 } },
      ]);

      const messages = [{ role: 'user', content: `${marker} weather in Paris?` }];
      const turn1 = await client.chat.completions.create({ model, max_tokens: 256, tools: [weatherTool], messages });
      assert.equal(turn1.choices[0].finish_reason, 'tool_calls');
      const call = turn1.choices[0].message.tool_calls[0];
      assert.equal(call.type, 'function');
      assert.equal(call.function.name, 'get_weather');
      assert.deepEqual(JSON.parse(call.function.arguments), { city: 'Paris' });

      messages.push(turn1.choices[0].message);
      messages.push({ role: 'tool', tool_call_id: call.id, content: 'sunny, 24 °C' });
      const turn2 = await client.chat.completions.create({ model, max_tokens: 256, tools: [weatherTool], messages });

      assert.equal(turn2.choices[0].message.content, 'It is sunny in Paris.');
      assert.equal(turn2.usage.prompt_tokens, 95);
      const [, second] = await assertUpstream(stack, marker, model, 2);
      const results = toolResults(second.body);
      assert.equal(results.length, 1);
      assert.equal(results[0].text, 'sunny, 24 °C');
    });
  });
}

describe(`openai structured output on ${models.claude} (translated)`, () => {
  const weatherFormat = {
    type: 'json_schema',
    json_schema: {
      name: 'weather',
      description: 'The weather in one city.',
      strict: true,
      schema: {
        type: 'object',
        properties: { city: { type: 'string' }, celsius: { type: 'number' } },
        required: ['city', 'celsius'],
        additionalProperties: false,
      },
    },
  };

  for (const stream of [false, true]) {
    test(`response_format json_schema${stream ? ', streamed' : ''}: the JSON arrives as content, forced as one tool upstream`, async () => {
      const marker = stack.marker(stream ? 'oai-json-stream' : 'oai-json');
      await stack.script(marker, [{ tool_calls: [{ name: 'weather', arguments: { city: 'Paris', celsius: 24 } }], chunk_size: 4, usage: { input_tokens: 40, output_tokens: 12 } }]);
      const request = { model: models.claude, max_tokens: 256, response_format: weatherFormat, messages: [{ role: 'user', content: `${marker} weather in Paris as JSON` }] };

      let content = '';
      let finish;
      if (stream) {
        const events = await client.chat.completions.create({ ...request, stream: true });
        for await (const chunk of events) {
          content += chunk.choices[0]?.delta?.content ?? '';
          finish = chunk.choices[0]?.finish_reason ?? finish;
          assert.equal(chunk.choices[0]?.delta?.tool_calls, undefined, 'the forced tool is not shown as a tool call');
        }
      } else {
        const completion = await client.chat.completions.create(request);
        content = completion.choices[0].message.content;
        finish = completion.choices[0].finish_reason;
        assert.equal(completion.choices[0].message.tool_calls, undefined);
      }

      assert.deepEqual(JSON.parse(content), { city: 'Paris', celsius: 24 });
      assert.equal(finish, 'stop');
      const [upstream] = await assertUpstream(stack, marker, models.claude, 1);
      assert.deepEqual(upstream.body.tools.map((t) => t.name), ['weather']);
      assert.deepEqual(upstream.body.tool_choice, { type: 'tool', name: 'weather' });
      assert.deepEqual(upstream.body.tools[0].input_schema, weatherFormat.json_schema.schema);
    });
  }
});
