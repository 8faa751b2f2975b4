"""Chunks: presigned transfers straight between clients and S3 (Upload Chunk, Download Chunk)."""
