"""Training pipelines: data from test collections, teacher labels, the FIRST objective, bi-encoder
fine-tuning and learned fusion. Heavy dependencies (sentence-transformers, peft, LightGBM) are imported
inside the functions that need them."""
