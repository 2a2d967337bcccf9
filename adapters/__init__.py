"""Adapters behind the ports: one package per signing provider (each exports a PLUGIN the registry finds),
the Salesforce CRM adapter, and the HTTP transport they share."""
