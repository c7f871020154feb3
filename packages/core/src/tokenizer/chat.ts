import { Template, parse, tokenize } from '@huggingface/jinja';
import { TrineError, invalidArgument } from '../errors/index.js';
import type { ChatMessage } from '../generate/types.js';
import type { TokenizerSpec } from './spec.js';
import type { Tokenizer } from './tokenizer.js';

/**
 * The chat template of microsoft/bitnet-b1.58-2B-4T (250 bytes): "Role: content<|eot_id|>" per message, then
 * "Assistant: ". It does not emit bos_token; BOS comes from add_bos_token when the rendering is tokenized.
 */
export const BITNET_2B4T_CHAT_TEMPLATE =
  "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = message['role'] | capitalize + ': '+ message['content'] | trim + '<|eot_id|>' %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ 'Assistant: ' }}{% endif %}";

/** Architectures whose files may lack a template and then get the 2B4T one (bitnet.cpp's names for that model). */
const DEFAULTS_TO_2B4T = new Set(['bitnet-b1.58', 'bitnet-25']);

export interface ChatOptions {
  /** End with the assistant's header so the model answers next. */
  addGenerationPrompt?: boolean;
  /** `general.architecture`, to pick the default template when the file has none. */
  arch?: string;
  /** Further template variables (e.g. `tools`, `date_string`). */
  variables?: Record<string, unknown>;
}

/** The template a model's chat uses: its own, else the 2B4T template for BitNet 2B4T-style architectures. */
export function chatTemplateFor(spec: TokenizerSpec, arch?: string): string {
  if (spec.chatTemplate !== undefined && spec.chatTemplate.length > 0) return spec.chatTemplate;
  if (arch !== undefined && DEFAULTS_TO_2B4T.has(arch)) return BITNET_2B4T_CHAT_TEMPLATE;
  throw new TrineError('UNSUPPORTED', `tokenizer.chat_template: this ${arch ?? 'model'} file has no chat template`, {
    field: 'tokenizer.chat_template',
  });
}

const compiled = new Map<string, Template>();

interface AstNode {
  type: string;
  [key: string]: unknown;
}
type FilterCtor = new (operand: unknown, filter: unknown) => AstNode;
type IdentifierCtor = new (name: string) => AstNode;

function findNode(value: unknown, type: string, seen = new Set<unknown>()): AstNode | undefined {
  if (typeof value !== 'object' || value === null || seen.has(value)) return undefined;
  seen.add(value);
  if ((value as AstNode).type === type) return value as AstNode;
  for (const child of Object.values(value)) {
    const found = findNode(child, type, seen);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** The library's node classes, taken from a parsed probe (the package does not export them). */
const probe = findNode(parse(tokenize('{{ x | lower }}')), 'FilterExpression')!;
const FilterExpression = probe.constructor as FilterCtor;
const Identifier = (probe.filter as AstNode).constructor as IdentifierCtor;

/**
 * Python's str.capitalize (jinja2's `capitalize`) lowercases the rest of the string; @huggingface/jinja 0.5.11 only
 * uppercases the first character. Rewriting every `x | capitalize` as `x | lower | capitalize` gives Python's result.
 */
function pythonCapitalize(program: unknown): void {
  const seen = new Set<unknown>();
  const visit = (value: unknown) => {
    if (typeof value !== 'object' || value === null || seen.has(value)) return;
    seen.add(value);
    const node = value as AstNode;
    for (const child of Object.values(node)) visit(child);
    const filter = node.filter as AstNode | undefined;
    if (node.type === 'FilterExpression' && filter?.type === 'Identifier' && filter.value === 'capitalize') {
      node.operand = new FilterExpression(node.operand, new Identifier('lower'));
    }
  };
  visit(program);
}

function compile(source: string): Template {
  let template = compiled.get(source);
  if (template === undefined) {
    try {
      // @huggingface/jinja applies trim_blocks and lstrip_blocks, as transformers' environment does.
      template = new Template(source);
    } catch (cause) {
      throw new TrineError('INVALID_MODEL_FILE', `tokenizer.chat_template: does not parse (${String(cause)})`, {
        field: 'tokenizer.chat_template',
        cause,
      });
    }
    pythonCapitalize(template.parsed);
    if (compiled.size >= 16) compiled.clear();
    compiled.set(source, template);
  }
  return template;
}

/** Renders messages with the model's chat template, with the variables transformers' apply_chat_template passes. */
export function renderChat(spec: TokenizerSpec, messages: readonly ChatMessage[], options: ChatOptions = {}): string {
  if (!Array.isArray(messages)) throw invalidArgument('messages', 'must be an array');
  messages.forEach((m, i) => {
    if (typeof m?.role !== 'string') throw invalidArgument(`messages[${i}].role`, 'must be a string');
    if (typeof m.content !== 'string') throw invalidArgument(`messages[${i}].content`, 'must be a string');
  });
  const template = compile(chatTemplateFor(spec, options.arch));
  const tokenText = (id: number | undefined) => (id === undefined ? '' : (spec.tokens[id] ?? ''));
  try {
    return template.render({
      ...options.variables,
      messages: messages.map((m) => ({ role: m.role, content: m.content })),
      add_generation_prompt: options.addGenerationPrompt ?? false,
      bos_token: tokenText(spec.bosId),
      eos_token: tokenText(spec.eosId),
    });
  } catch (cause) {
    // Templates reject conversations they do not support (e.g. raise_exception on role order).
    throw new TrineError('INVALID_ARGUMENT', `messages: the chat template rejected them (${String(cause)})`, {
      field: 'messages',
      cause,
    });
  }
}

/**
 * Renders and tokenizes a chat the way llama.cpp's server does: special tokens in the rendering are parsed, BOS is
 * added per add_bos_token, and a template that already emits bos_token does not get a second one.
 */
export function encodeChat(tokenizer: Tokenizer, messages: readonly ChatMessage[], options: ChatOptions = {}): number[] {
  const ids = tokenizer.encode(renderChat(tokenizer.spec, messages, options), { parseSpecial: true, addEos: false });
  const bos = tokenizer.bosId;
  if (bos !== undefined && ids.length >= 2 && ids[0] === bos && ids[1] === bos) ids.shift();
  return ids;
}
