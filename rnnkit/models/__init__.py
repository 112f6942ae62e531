"""Models built from the engine: the character language model and the four input/output
forms (classifier, generator, encoder-decoder, tagger), plus the streaming LM step."""
