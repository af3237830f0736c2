import { Resource } from './resource';

export class Rooms extends Resource {}
