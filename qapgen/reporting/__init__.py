"""Reports from a result store: the paper's tables beside ours, and Figure 5."""
