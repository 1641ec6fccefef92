"""Scan with your phone to log in: QR code login for Django."""
