"""Backtests: a strategy against recorded order-level data, with honest fills.

The parts, each small and tested alone, composed in one place (``runner.run_backtest``):

- ``exchange``: the strategy's orders against the recorded book (``FifoExchange``: exact
  L3 queue position; ``queue.L2Exchange``: L2 queue models), fills and acks;
- ``queue``: the L2 queue-position models (risk-averse, power, log);
- ``latency``: feed, entry, modify, cancel and ack latencies, constant or recorded;
- ``fees``: maker / taker rates in ppm of notional;
- ``interactive``: recorded and strategy orders matched together in a whistle engine;
- ``mbp_source``: MBP-N rows (``whistle feed replay`` output) as input for the L2 models;
- ``runner``: ``run_backtest``, feed -> book -> exchange bookkeeping -> strategy -> risk
  -> exchange;
- ``result``: ``BacktestResult`` and its parts; ``errors``: ``BacktestError``.
"""

from whistle.trading.backtest.config import L2_QUEUE_MODELS, QUEUE_MODELS, BacktestConfig
from whistle.trading.backtest.errors import BacktestConfigError, BacktestError, LatencyFileError
from whistle.trading.backtest.exchange import BacktestExchange, FifoExchange, SimOrder
from whistle.trading.backtest.fees import FeeConfig, FeeModel, FeeRates, fee_tick_lots
from whistle.trading.backtest.interactive import InteractiveExchange
from whistle.trading.backtest.latency import (
    LATENCY_COLUMNS,
    ConstantLatency,
    InterpolatedLatency,
    LatencyConfig,
    LatencyModel,
    latency_model,
    read_latency_file,
)
from whistle.trading.backtest.mbp_source import MbpRowReader
from whistle.trading.backtest.queue import (
    L2Exchange,
    LogQueue,
    PowerQueue,
    QueueModel,
    RiskAverseQueue,
    queue_model,
)
from whistle.trading.backtest.result import BacktestResult, Divergence, Fill, Sample
from whistle.trading.backtest.runner import PROGRESS_EVERY, make_exchange, run_backtest

__all__ = [
    "L2_QUEUE_MODELS",
    "LATENCY_COLUMNS",
    "PROGRESS_EVERY",
    "QUEUE_MODELS",
    "BacktestConfig",
    "BacktestConfigError",
    "BacktestError",
    "BacktestExchange",
    "BacktestResult",
    "ConstantLatency",
    "Divergence",
    "FeeConfig",
    "FeeModel",
    "FeeRates",
    "FifoExchange",
    "Fill",
    "InteractiveExchange",
    "InterpolatedLatency",
    "L2Exchange",
    "LatencyConfig",
    "LatencyFileError",
    "LatencyModel",
    "LogQueue",
    "MbpRowReader",
    "PowerQueue",
    "QueueModel",
    "RiskAverseQueue",
    "Sample",
    "SimOrder",
    "fee_tick_lots",
    "latency_model",
    "make_exchange",
    "queue_model",
    "read_latency_file",
    "run_backtest",
]
