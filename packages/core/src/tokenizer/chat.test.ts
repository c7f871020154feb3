import { describe, expect, it } from 'vitest';
import { BYTE_TO_CHAR } from './byte-level.js';
import { BITNET_2B4T_CHAT_TEMPLATE, chatTemplateFor, encodeChat, renderChat } from './chat.js';
import type { TokenizerSpec } from './spec.js';
import { createTokenizer } from './tokenizer.js';

const LLAMA3_TEMPLATE =
  "{{ bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";

const specials = ['<|begin_of_text|>', '<|end_of_text|>', '<|start_header_id|>', '<|end_header_id|>', '<|eot_id|>'];
const spec: TokenizerSpec = {
  model: 'gpt2',
  pre: 'llama-bpe',
  tokens: [...BYTE_TO_CHAR, ...specials],
  tokenTypes: Int32Array.from({ length: 261 }, (_, i) => (i >= 256 ? 3 : 1)),
  merges: [],
  bosId: 256,
  eosId: 257,
  eotId: 260,
  addBos: true,
  addEos: false,
};

describe('chat templates', () => {
  it('capitalizes as Python does (first letter upper, the rest lower)', () => {
    const out = renderChat({ ...spec, chatTemplate: BITNET_2B4T_CHAT_TEMPLATE }, [
      { role: 'sYSTEM', content: 'Be brief.' },
      { role: 'USER', content: '\n  Hi!  ' },
    ]);
    expect(out).toBe('System: Be brief.<|eot_id|>User: Hi!<|eot_id|>');
  });

  it('applies trim_blocks and lstrip_blocks as transformers does', () => {
    const template = '{% for m in messages %}\n  {{ m.content }}\n  {% if m.role == "user" %}\n[u]\n  {% endif %}\n{% endfor %}';
    const out = renderChat({ ...spec, chatTemplate: template }, [
      { role: 'user', content: 'a' },
      { role: 'x', content: 'b' },
    ]);
    // jinja2 with trim_blocks=True, lstrip_blocks=True renders this as '  a\n[u]\n  b\n'.
    expect(out).toBe('  a\n[u]\n  b\n');
  });

  it('passes bos_token and eos_token, and the template’s BOS is not doubled when tokenized', () => {
    const withTemplate = { ...spec, chatTemplate: LLAMA3_TEMPLATE };
    const tok = createTokenizer(withTemplate);
    const messages = [{ role: 'user', content: 'hi' }];
    const text = renderChat(withTemplate, messages, { addGenerationPrompt: true });
    expect(text).toBe('<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n');
    const ids = encodeChat(tok, messages, { addGenerationPrompt: true });
    expect(ids.slice(0, 2)).toEqual([256, 258]);
    expect(ids.filter((id) => id === 256)).toHaveLength(1);
    expect(tok.decode(ids, { renderSpecial: true })).toBe(text);
  });

  it('uses the 2B4T template for bitnet-b1.58 / bitnet-25 files without one, and refuses others', () => {
    expect(chatTemplateFor(spec, 'bitnet-25')).toBe(BITNET_2B4T_CHAT_TEMPLATE);
    expect(chatTemplateFor(spec, 'bitnet-b1.58')).toBe(BITNET_2B4T_CHAT_TEMPLATE);
    expect(renderChat(spec, [{ role: 'user', content: 'x' }], { arch: 'bitnet-25', addGenerationPrompt: true })).toBe(
      'User: x<|eot_id|>Assistant: ',
    );
    for (const arch of ['bitnet', undefined]) {
      expect(() => chatTemplateFor(spec, arch)).toThrowError(
        expect.objectContaining({ code: 'UNSUPPORTED', field: 'tokenizer.chat_template' }),
      );
    }
    expect(BITNET_2B4T_CHAT_TEMPLATE.length).toBe(250);
  });

  it('reports a template that does not parse as a model-file problem', () => {
    expect(() => renderChat({ ...spec, chatTemplate: '{% for x in %}' }, [])).toThrowError(
      expect.objectContaining({ code: 'INVALID_MODEL_FILE', field: 'tokenizer.chat_template' }),
    );
  });

  it('reports raise_exception and bad messages as invalid arguments', () => {
    const strict = { ...spec, chatTemplate: "{% if messages[0]['role'] != 'user' %}{{ raise_exception('user first') }}{% endif %}ok" };
    expect(renderChat(strict, [{ role: 'user', content: '' }])).toBe('ok');
    expect(() => renderChat(strict, [{ role: 'assistant', content: '' }])).toThrowError(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', field: 'messages' }),
    );
    expect(() => renderChat(strict, [{ role: 'user', content: 3 as unknown as string }])).toThrowError(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', field: 'messages[0].content' }),
    );
  });
});
