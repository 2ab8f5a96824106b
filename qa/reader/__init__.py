"""Reader inference: token windows, span decoding, the model on PyTorch or ONNX Runtime, its stored settings.

Free of pydantic, web and index dependencies so that training (lab/train_reader.py) can run on a bare GPU
machine with only torch, transformers, numpy and tqdm.
"""
