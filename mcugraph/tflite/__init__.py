"""TFLite flatbuffers: the schema, running models in TFLite Micro and LiteRT, reading and writing files."""
