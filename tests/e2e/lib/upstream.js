// Reading what reached the fake upstream, in either dialect.
import assert from 'node:assert/strict';
import { upstreamModels } from './stack.js';

/** The dialect path the gateway must use for a model's route. */
export function upstreamPath(model) {
  return model.startsWith('claude') ? '/v1/messages' : '/v1/chat/completions';
}

function text(content) {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map((part) => (typeof part === 'string' ? part : part.text ?? text(part.content) ?? '')).join('');
  return '';
}

/** The tool results in a recorded request body: Anthropic `tool_result` blocks or OpenAI `tool` messages. */
export function toolResults(body) {
  const results = [];
  for (const message of body.messages ?? []) {
    if (message.role === 'tool') {
      results.push({ id: message.tool_call_id, text: text(message.content) });
    } else if (Array.isArray(message.content)) {
      for (const block of message.content) {
        if (block.type === 'tool_result') results.push({ id: block.tool_use_id, text: text(block.content) });
      }
    }
  }
  return results;
}

/** The tool names declared in a recorded request body, in either dialect. */
export function toolNames(body) {
  return (body.tools ?? []).map((t) => t.name ?? t.function?.name);
}

/** Asserts that `count` requests containing `marker` reached the fake, on the model's route, and returns them. */
export async function assertUpstream(stack, marker, model, count) {
  const requests = await stack.upstreamRequests(marker);
  assert.equal(requests.length, count, `requests with ${marker} at the fake: ${requests.map((r) => `${r.method} ${r.path}`).join(', ')}`);
  for (const request of requests) {
    assert.equal(request.path.split('?')[0], upstreamPath(model));
    assert.equal(request.body.model, upstreamModels[model]);
  }
  return requests;
}
