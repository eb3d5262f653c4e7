"""PIR refinement: read chains, segment and classify their steps, score them, select the steps to prune."""
