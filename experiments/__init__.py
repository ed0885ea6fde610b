"""Reproduction recipes: which runs make each table and figure of the paper, and the sweep
runner that trains, tests and reports them."""
