"""Extractive reader: a transformer span model that finds answer spans in passages.

Kept free of web and index dependencies so that training can run on a bare GPU machine
with only torch, transformers, numpy and tqdm.
"""
