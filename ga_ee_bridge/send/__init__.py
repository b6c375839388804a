"""Sending to Exponea's Tracking API: validation, one request, the batching sender, the spool,
clients.
"""
