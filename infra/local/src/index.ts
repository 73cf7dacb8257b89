export {
  type BrokerInfo,
  type ClusterMetadata,
  completeFrameLength,
  decodeMetadataResponse,
  encodeMetadataRequest,
  type TopicInfo,
} from './kafka-wire.js';
