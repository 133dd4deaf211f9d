"""Layer 9: the network API (gRPC services, server, clients, market data, web view).

May import every lower layer: ``whistle.core`` ... ``whistle.orchestrator``; never
``whistle.cluster`` (layer 10, which implements ``whistle.api.backend.Backend``).
"""
