"""Make the rerank stand-in: MiniLM with a seeded, untrained one-label classification head.

    python make_reranker.py MINILM_DIR OUT_DIR SEED

Run with the Xinference venv's Python (it has torch and transformers). No trained cross-encoder
ships as a PyPI package, so the scores mean nothing; the model exercises each server's real
rerank route and answer shapes. The same seed and library versions give the same weights.
"""

import sys

import torch
from transformers import AutoTokenizer, BertForSequenceClassification

source, out, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
torch.manual_seed(seed)
model = BertForSequenceClassification.from_pretrained(source, num_labels=1)
with torch.no_grad():  # a head wide enough for scores that differ visibly between documents
    model.classifier.weight.normal_(0.0, 0.5, generator=torch.Generator().manual_seed(seed))
    model.classifier.bias.zero_()
model.save_pretrained(out, safe_serialization=True)
AutoTokenizer.from_pretrained(source).save_pretrained(out)
