"""The card's prose that is not the template: a usage snippet per task and a sentence per method.

`MODEL_ID` in a snippet is replaced by the model's Hub id (or path); tests run every snippet on a tiny model.
"""

USAGE = {
    "ner": '''from transformers import pipeline

tagger = pipeline("token-classification", model=MODEL_ID, aggregation_strategy="simple")
# Text in any of the languages above; sub-words are merged back into entity spans.
print(tagger("John Smith was born in New York."))''',
    # One tag per word, read at the word's first sub-word as in training. (The pipeline's aggregation_strategy
    # would merge adjacent words that share a tag, "New York" as one PROPN.)
    "pos": '''import torch
from transformers import AutoModelForTokenClassification, AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained(MODEL_ID)
model = AutoModelForTokenClassification.from_pretrained(MODEL_ID)
words = "John Smith was born in New York .".split()  # words, in any of the languages above
inputs = tokenizer(words, is_split_into_words=True, truncation=True, return_tensors="pt")
with torch.no_grad():
    predicted = model(**inputs).logits[0].argmax(-1).tolist()
first = {}  # word index -> the prediction at its first sub-word
for position, word in enumerate(inputs.word_ids()):
    if word is not None and word not in first:
        first[word] = predicted[position]
for i, word in enumerate(words):
    print(word, model.config.id2label[first[i]] if i in first else "(truncated)")''',
    # transformers 5 removed the question-answering pipeline: read the best span from the start/end logits.
    "qa": '''import torch
from transformers import AutoModelForQuestionAnswering, AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained(MODEL_ID)
model = AutoModelForQuestionAnswering.from_pretrained(MODEL_ID)
# Question and context in any of the languages above.
question, context = "Where was John Smith born?", "John Smith was born in New York in 1950."
inputs = tokenizer(question, context, truncation="only_second", max_length=384, return_offsets_mapping=True, return_tensors="pt")
offsets = inputs.pop("offset_mapping")[0]
with torch.no_grad():
    outputs = model(**inputs)
# The best span of context tokens (sequence id 1), at most 30 tokens long.
in_context = torch.tensor([sequence_id == 1 for sequence_id in inputs.sequence_ids()])
n = len(in_context)
allowed = torch.ones(n, n, dtype=torch.bool).triu().tril(30) & in_context[:, None] & in_context[None, :]
scores = (outputs.start_logits[0][:, None] + outputs.end_logits[0][None, :]).masked_fill(~allowed, float("-inf"))
start, end = divmod(int(scores.argmax()), n)
print({"answer": context[offsets[start][0] : offsets[end][1]]})''',
    "xnli": '''from transformers import pipeline

classifier = pipeline("text-classification", model=MODEL_ID)
# A premise and a hypothesis, as a sentence pair, in any of the languages above.
print(classifier({"text": "A man is playing a guitar on stage.", "text_pair": "A person is making music."}))''',
}

METHOD_DESCRIPTIONS = {
    "zero-shot": "trained on the source language only and applied to every other language as is.",
    "ord-fs-dev": "trained on the source language, then fine-tuned on one target language's K shots, keeping the "
    "checkpoint that scores best on that language's development set.",
    "ord-fs": "trained on the source language, then fine-tuned on one target language's K shots for a fixed budget, "
    "without a target development set.",
    "mix-ft": "trained on the source language, then fine-tuned once on the K shots of all target languages together.",
    "naive-mix": "trained in one step on the source language's training set plus the K shots of every target "
    "language, mixed in the same batches.",
    "gradient-mix": "trained in one step on the source language's training set plus the K shots of every target "
    "language, mixed in the same batches, with stochastic gradient surgery.",
}
