"""perfop workload: top words of a deterministic 20,000-word document.

Prints the result (perfop checks that it does not change) and a custom throughput metric.
"""

import random
import time

from wordfreq import top_words

rng = random.Random(42)
vocabulary = [f"w{i:04d}" for i in range(4000)]
weights = [1.0 / (rank + 1) ** 0.5 for rank in range(len(vocabulary))]  # a flat Zipf tail
text = " ".join(rng.choices(vocabulary, weights=weights, k=20_000))

start = time.perf_counter()
result = top_words(text, n=10)
elapsed = time.perf_counter() - start

for word, count in result:
    print(f"{word} {count}")
print(f"PERFOP_METRIC words_per_s={20_000 / elapsed:.1f} unit=words/s better=higher")
