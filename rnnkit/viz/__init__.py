"""Insight tools, clients of the layers below: training curves, hidden units over the text,
gradient flow through time, and the local web app."""
