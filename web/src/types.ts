// The API's shapes the page reads: the daemon's own types (type-only: nothing of the daemon is bundled).
export type {
  CoordinatorView,
  ErrorBody,
  ImageView,
  JobState,
  JobView,
  LayerView,
  Liveness,
  NodeStateEvent,
  NodeView,
  RecordEvent,
  StatsSample,
  StatsView,
  StatusView,
} from '../../src/api/types.js'
export type { NodeValue } from '../../src/membership/index.js'
