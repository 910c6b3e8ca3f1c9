"""Lineages on disk: the Certbot layout (archive/, live/, renewal/*.conf), finding, choosing, naming and deleting lineages, and the LineageStore seam."""
