"""Human evaluation kit (the paper's Table 4): blinded forms out, raters' answers in."""
