"""Small causal LMs built offline: a seeded config, random weights, a tokenizer trained on a built-in text.

For demos, tests and benchmarks on machines with no model hub: the result is
an ordinary `save_pretrained` directory, loaded through `from_pretrained`
like any other model. Same arguments, same bytes, same model digest.
"""

from __future__ import annotations

from pathlib import Path

import torch

CORPUS = """Tessera is a marketplace for inference settled on Solana. Agents pay per request; providers stake
and run shards of jobs; an aggregator verifies by redundant sampling and releases the escrow. The quick brown fox
jumps over the lazy dog. A model reads a prompt and writes the next token, then the next, until it is done.
Numbers: zero one two three four five six seven eight nine ten. Questions and answers, summaries and lists.
""" * 4
FAMILIES = ("gpt2", "llama")


def build_tokenizer(vocab_size: int = 512):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tokenizer.train_from_iterator(CORPUS.splitlines(), trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                                   pad_token="<|endoftext|>")


def build_causal_lm(directory: Path | str, family: str = "gpt2", seed: int = 0, layers: int = 2, width: int = 64,
                    heads: int = 4, vocab_size: int = 512, positions: int = 512) -> Path:
    """Writes a seeded random model and its tokenizer to `directory`; returns it."""
    from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}")
    directory = Path(directory)
    tokenizer = build_tokenizer(vocab_size)
    special = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    # A wide initialisation gives logits with clear margins, as a trained model has; the
    # default (0.02) gives a random model almost uniform next-token odds. Scaled by
    # 1/sqrt(width), as trained weights are: a flat 0.3 at 12 layers x 768 blows the
    # residual stream up until float32 paths (cached decoding vs a teacher-forced
    # check) disagree by 0.1 logits, where this keeps them within ~1e-4.
    common = dict(vocab_size=len(tokenizer), bos_token_id=special, eos_token_id=special,
                  initializer_range=min(0.3, 2.4 / width**0.5))
    if family == "gpt2":
        config = GPT2Config(n_layer=layers, n_embd=width, n_head=heads, n_positions=positions, **common)
        model_class = GPT2LMHeadModel
    else:
        config = LlamaConfig(num_hidden_layers=layers, hidden_size=width, intermediate_size=2 * width,
                             num_attention_heads=heads, num_key_value_heads=max(1, heads // 2),
                             max_position_embeddings=positions, tie_word_embeddings=True, **common)
        model_class = LlamaForCausalLM
    torch.manual_seed(seed)
    model = model_class(config).eval()
    model.generation_config.pad_token_id = special
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory
