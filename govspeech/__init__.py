"""govspeech: the command line that wires settings to the corpus, indexer and API stages."""
