// How lab parts publish DNS records in the lab's PowerDNS servers.
/** One DNS record set, as the PowerDNS API takes it (TXT contents quoted). */
export interface LabRrset {
  name: string;
  type: string;
  ttl: number;
  records: string[];
}

/** Writes zones to every one of the lab's PowerDNS servers. */
export interface LabZoneWriter {
  /** The port (127.0.0.1) of the first server, the one resolvers are pointed at. */
  dnsPort: number;
  createZone(zone: string, rrsets: LabRrset[]): Promise<void>;
  /** Replaces one record set. */
  setRrset(zone: string, rrset: LabRrset): Promise<void>;
}
