"""Continue a Microsoft.ML.NEFTune fine-tuning job with TRL + accelerate on one or many GPUs.

    pip install "trl>=0.19" "transformers>=4.46" accelerate peft pyyaml
    accelerate launch --config_file accelerate/{profile}.yaml train.py

Written by `neftune export-recipe`; the hyperparameters are in sft_config.yaml, the data in data/, the model in model/.
NEFTune is added by neftune_hook.py with the library's semantics (per-sequence length, no noise on padding), not by
TRL's neftune_noise_alpha (which scales by the padded or flattened batch length).
"""
import json
import os

import yaml
from datasets import load_dataset
from transformers import AutoModelForCausalLM, AutoTokenizer
from trl import SFTConfig, SFTTrainer

from neftune_hook import install_neftune

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    with open(os.path.join(HERE, "sft_config.yaml")) as f:
        config = yaml.safe_load(f)
    with open(os.path.join(HERE, "neftune.json")) as f:
        noise = json.load(f)
    files = {"train": os.path.join(HERE, "data", "train.jsonl")}
    if os.path.exists(os.path.join(HERE, "data", "validation.jsonl")):
        files["validation"] = os.path.join(HERE, "data", "validation.jsonl")
    data = load_dataset("json", data_files=files)
    tokenizer = AutoTokenizer.from_pretrained(os.path.join(HERE, "model"))
    model = AutoModelForCausalLM.from_pretrained(os.path.join(HERE, "model"), torch_dtype="auto")
    peft_config = None
    if os.path.exists(os.path.join(HERE, "lora.json")):
        from peft import LoraConfig
        with open(os.path.join(HERE, "lora.json")) as f:
            peft_config = LoraConfig(**json.load(f))
    if os.path.isdir(os.path.join(HERE, "adapter")):
        from peft import PeftModel
        model = PeftModel.from_pretrained(model, os.path.join(HERE, "adapter"), is_trainable=True)
    install_neftune(model, noise["alpha"], noise["kind"])
    trainer = SFTTrainer(
        model=model,
        args=SFTConfig(**config),
        train_dataset=data["train"],
        eval_dataset=data.get("validation"),
        processing_class=tokenizer,
        peft_config=peft_config,
    )
    trainer.train()
    trainer.save_model(config["output_dir"])
    tokenizer.save_pretrained(config["output_dir"])


if __name__ == "__main__":
    main()
