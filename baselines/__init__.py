"""The baseline zoo: one LightningModule per file, on qapgen's shared base."""
